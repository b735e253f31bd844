"""--overwrite and --resume through the CLI: the same rules in every verb, checked before any
work, and nothing a user already has is deleted by mistake."""

import os

from uncanny.cli import main


def _foil(model, out, *extra):
    return main(["foil", "--model", model, "--out", out, "--iters", "2", "--snapshots", "0,2", "--faces-every", "0",
                 "--seeds", "0-3", *extra])


def test_foil_overwrite_checks_the_model_before_deleting_the_old_run(tiny_ckpt, tmp_path, capsys):
    out = str(tmp_path / "run")
    assert _foil(tiny_ckpt, out) == 0
    before = sorted(os.listdir(os.path.join(out, "snapshots")))
    assert _foil(str(tmp_path / "typo.safetensors"), out, "--overwrite") == 2
    assert "no such checkpoint file" in capsys.readouterr().err
    assert sorted(os.listdir(os.path.join(out, "snapshots"))) == before    # the old run is intact
    assert _foil(tiny_ckpt, out, "--overwrite") == 0


def test_overwrite_never_deletes_a_folder_of_another_kind(tiny_ckpt, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "me.jpg").write_bytes(b"not really a photo")
    assert _foil(tiny_ckpt, str(photos), "--overwrite") == 2
    assert main(["train", str(tmp_path), "--out", str(photos), "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.count("not a run folder") == 2
    assert (photos / "me.jpg").read_bytes() == b"not really a photo"
    foil_run = str(tmp_path / "foilrun")
    assert _foil(tiny_ckpt, foil_run) == 0
    assert main(["train", str(tmp_path), "--out", foil_run, "--overwrite"]) == 2
    assert "a foil run, not a train run" in capsys.readouterr().err
    assert os.path.isfile(os.path.join(foil_run, "metrics.csv"))
    from uncanny.demo import fresh_folder                            # the demo never replaces a run
    assert fresh_folder(foil_run) == foil_run + "-2" and fresh_folder(str(tmp_path / "new")) == str(tmp_path / "new")


def test_project_overwrite_leaves_no_frames_of_the_old_run(tiny_ckpt, celeba_photos, tmp_path):
    out = str(tmp_path / "proj")
    args = ["project", "--model", tiny_ckpt, "--out", out, "--steps", "2", "--every", "1", "--id-weight", "0"]
    assert main(args + [celeba_photos[0]]) == 0
    first = sorted(os.listdir(out))
    assert main(args + [celeba_photos[1]]) == 2                     # exists: refused without --overwrite
    assert main(args + [celeba_photos[1], "--overwrite"]) == 0
    second = sorted(os.listdir(out))
    assert [f for f in first if f.startswith("00-")] != [f for f in second if f.startswith("00-")]
    assert len([f for f in second if f[:2].isdigit()]) == 1           # only the new face's folder
