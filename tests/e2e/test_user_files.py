"""Nothing a user already has is lost (#18): each case exits 2 with one line, or does what it
says, and the user's files are byte-identical afterwards."""

import hashlib
import os
import shutil

import pytest

from uncanny.cli import main
from uncanny.runs import RunFolder, abort_open


def _digest(folder):
    h = hashlib.sha256()
    for root, _, files in sorted(os.walk(folder)):
        for f in sorted(files):
            if f == ".lock":
                continue
            p = os.path.join(root, f)
            h.update(p.encode() + open(p, "rb").read())
    return h.hexdigest()


def _refused(argv, needle, capsys, *keep):
    before = [_digest(k) for k in keep]
    capsys.readouterr()                      # what earlier calls printed
    assert main(argv) == 2, argv
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert [_digest(k) for k in keep] == before


@pytest.fixture
def photos(tmp_path, celeba_photos):
    d = tmp_path / "photos"
    d.mkdir()
    for p in celeba_photos[:3]:
        shutil.copy(p, d)
    return str(d)


def test_data_prepare_never_writes_over_its_source_or_a_foreign_folder(photos, tmp_path, capsys):
    _refused(["data", "prepare", photos, photos, "--overwrite"], "not a prepared dataset", capsys, photos)
    _refused(["data", "prepare", photos, str(tmp_path), "--overwrite"], "not a prepared dataset", capsys, photos)
    ds = str(tmp_path / "ds")
    assert main(["data", "prepare", photos, ds, "--res", "16"]) == 0
    _refused(["data", "prepare", photos, ds, "--res", "16"], "already holds a dataset", capsys, ds)
    inside = os.path.join(ds, "more")                          # a source inside the dataset it would replace
    shutil.copytree(photos, inside)
    _refused(["data", "prepare", inside, ds, "--res", "16", "--overwrite"], "holds this run's input", capsys, ds)


def test_overwrite_refuses_the_current_folder_and_folders_holding_an_input(tiny_ckpt, tmp_path, capsys, monkeypatch):
    run = str(tmp_path / "run")
    args = ["--iters", "2", "--snapshots", "0,2", "--faces-every", "0", "--seeds", "0-3"]
    assert main(["foil", "--model", tiny_ckpt, "--out", run, *args]) == 0
    model_inside = os.path.join(run, "model.safetensors")
    shutil.copy(tiny_ckpt, model_inside)
    _refused(["foil", "--model", model_inside, "--out", run, "--overwrite", *args], "holds this run's input",
             capsys, run)
    monkeypatch.chdir(run)
    _refused(["foil", "--model", tiny_ckpt, "--out", ".", "--overwrite", *args], "current folder", capsys, run)


def test_a_second_writer_is_told_which_process_holds_the_run(tiny_ckpt, tmp_path, capsys):
    run = str(tmp_path / "run")
    holder = RunFolder(run, "foil")
    holder.open()
    holder.write_json("run.json", {"config": {}})
    _refused(["foil", "--model", tiny_ckpt, "--out", run, "--resume", "--iters", "2"], f"process {os.getpid()}",
             capsys)
    holder.release()


def test_a_failed_replacement_puts_the_old_run_back(tmp_path):
    path = str(tmp_path / "run")
    old = RunFolder(path, "foil")
    old.open()
    old.write_json("run.json", {"config": {"iters": 7}})
    (tmp_path / "run" / "precious.png").write_bytes(b"old")
    old.release()
    before = _digest(path)
    new = RunFolder(path, "foil")
    new.open(overwrite=True)
    assert not os.path.exists(os.path.join(path, "precious.png"))   # the new run starts empty
    abort_open()                                                    # ... and fails
    assert _digest(path) == before and not [f for f in os.listdir(tmp_path) if "replaced" in f]
    again = RunFolder(path, "foil")
    again.open(overwrite=True)
    again.release()                                                 # succeeds: the old one is gone for good
    assert not os.path.exists(os.path.join(path, "precious.png"))
    assert not [f for f in os.listdir(tmp_path) if "replaced" in f]


def test_damaged_images_in_a_dataset_are_skipped_and_named(photos, tmp_path, capsys):
    ds = str(tmp_path / "ds")
    assert main(["data", "prepare", photos, ds, "--res", "16"]) == 0
    pngs = sorted(f for f in os.listdir(ds) if f.endswith(".png"))
    first = pngs[0]
    open(os.path.join(ds, first), "wb").write(b"\x89PNG broken")
    from uncanny.data import load_dataset
    capsys.readouterr()
    x = load_dataset(ds)
    assert len(x) == len(pngs) - 1 and first in capsys.readouterr().err
    for f in os.listdir(ds):
        if f.endswith(".png"):
            open(os.path.join(ds, f), "wb").write(b"")
    _refused(["train", ds, "--out", str(tmp_path / "t"), "--kimg", "0.01"], "none of its", capsys)


def test_training_stops_cleanly_on_a_nonfinite_loss(photos, tmp_path, capsys):
    ds = str(tmp_path / "ds")
    assert main(["data", "prepare", photos, ds, "--res", "16"]) == 0
    out = str(tmp_path / "t")
    # a learning rate that sends the weights to 1e30 after one step: the next losses overflow
    assert main(["train", ds, "--out", out, "--kimg", "0.05", "--batch", "4", "--lr", "1e30", "--channel-base", "256",
                 "--channel-max", "16", "--style-dim", "32", "--snap", "1"]) == 0
    assert "non-finite loss at step" in capsys.readouterr().err
    from uncanny.adapters import load_gan
    snaps = sorted(os.listdir(os.path.join(out, "snapshots")))
    load_gan(os.path.join(out, "snapshots", [s for s in snaps if s.endswith(".safetensors")][-1]))  # finite weights


def test_disk_full_mid_run_is_one_line_and_the_run_resumes(tiny_ckpt, tmp_path, capsys, monkeypatch):
    """ENOSPC while a snapshot is written: exit 2, one line, no half-written file that looks
    complete; once there is space again, --resume finishes the run."""
    import errno

    from uncanny import checkpoint
    real_write, calls = checkpoint.atomic_write_bytes, []

    def full_disk(path, data):
        calls.append(path)
        if len(calls) == 3:          # the second snapshot
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return real_write(path, data)

    monkeypatch.setattr(checkpoint, "atomic_write_bytes", full_disk)
    out = str(tmp_path / "run")
    args = ["foil", "--model", tiny_ckpt, "--out", out, "--iters", "6", "--snapshots", "0,3,6", "--faces-every", "0",
            "--seeds", "0-3"]
    capsys.readouterr()
    assert main(args) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "uncanny: error" in line]   # (after the progress bar)
    assert len(err) == 1 and "No space left on device" in err[0] and "--resume" in err[0], err
    assert not [f for f in os.listdir(os.path.join(out, "snapshots")) if ".tmp" in f]
    monkeypatch.setattr(checkpoint, "atomic_write_bytes", real_write)       # space again
    assert main(args + ["--resume"]) == 0
    assert sorted(os.listdir(os.path.join(out, "snapshots")))[-1] == "iter-000006.safetensors"
