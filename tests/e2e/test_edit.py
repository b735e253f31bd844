"""`uncanny edit` end to end: find and apply through the CLI, on seeds, a projected latent and a
foil run; attribute directions on the default model; bad input is one line, exit 2."""

import csv
import json
import os

import numpy as np
from PIL import Image

from uncanny.cli import main
from uncanny.latents import Latent


def test_sefa_find_and_apply_write_every_output(tiny_ckpt, tmp_path, capsys):
    dirs, out = str(tmp_path / "dirs"), str(tmp_path / "edit")
    assert main(["edit", "find", "--model", tiny_ckpt, "--method", "sefa", "--n-directions", "4", "--out", dirs]) == 0
    meta = json.load(open(os.path.join(dirs, "directions.json")))
    assert meta["method"] == "sefa" and meta["space"] == "W" and len(meta["directions"]) == 4
    assert Image.open(os.path.join(dirs, "preview.png")).size[1] > 4 * 16
    assert main(["edit", "apply", "--seeds", "0-2", "--directions", dirs, "--index", "1", "--strengths=-2,2,5",
                 "--layers", "0-3", "--out", out]) == 0
    rows = list(csv.DictReader(open(os.path.join(out, "sweep.csv"))))
    assert len(rows) == 15 and [r["strength"] for r in rows[:5]] == ["-2", "-1", "0", "1", "2"]
    assert {"gender", "age", "smile", "yaw", "identity_to_unedited", "face_found"} <= set(rows[0])
    frames = sorted(os.listdir(os.path.join(out, "frames", "seed0")))
    assert frames == ["00_-2.00.png", "01_-1.00.png", "02_+0.00.png", "03_+1.00.png", "04_+2.00.png"]
    # the strength-0 frame is the unedited seed, and the edit changes the image
    a = np.asarray(Image.open(os.path.join(out, "frames", "seed0", "02_+0.00.png")))
    b = np.asarray(Image.open(os.path.join(out, "frames", "seed0", "04_+2.00.png")))
    assert np.abs(a.astype(int) - b).mean() > 1
    for f in ("strip.png", "sweep.mp4", "sweep.gif", "run.json"):
        assert os.path.getsize(os.path.join(out, f)) > 100


def test_apply_to_a_latent_and_through_a_foil_run(tiny_ckpt, tmp_path):
    from uncanny.adapters import load_gan
    dirs = str(tmp_path / "dirs")
    assert main(["edit", "find", "--model", tiny_ckpt, "--method", "ganspace", "--samples", "500", "--out", dirs]) == 0
    gan = load_gan(tiny_ckpt)
    lat = Latent("w+", gan.w_avg.unsqueeze(1).repeat(1, gan.num_ws, 1), gan.make_noise())
    lat_path = str(tmp_path / "me" / "latent.npz")
    os.makedirs(os.path.dirname(lat_path))
    lat.save(lat_path, {"arch": "stylegan2"})
    assert main(["edit", "apply", "--latent", lat_path, "--directions", dirs, "--index", "0", "--out",
                 str(tmp_path / "e1")]) == 0
    assert len(os.listdir(tmp_path / "e1" / "frames" / "me")) == 7
    run = str(tmp_path / "foil")
    assert main(["foil", "--model", tiny_ckpt, "--out", run, "--iters", "4", "--snapshots", "0,2,4",
                 "--faces-every", "0", "--seeds", "0-3"]) == 0
    assert main(["edit", "apply", "--seeds", "0", "--directions", dirs, "--index", "0", "--strengths=-1,1,3",
                 "--run", run, "--out", str(tmp_path / "e2")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "e2" / "sweep.csv")))
    assert [r["snapshot"] for r in rows] == ["0"] * 3 + ["2"] * 3 + ["4"] * 3
    assert main(["edit", "apply", "--seeds", "0", "--directions", dirs, "--index", "0", "--strengths=-1,1,3",
                 "--run", run, "--snapshots", "4", "--out", str(tmp_path / "e3")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "e3" / "sweep.csv")))
    assert [r["snapshot"] for r in rows] == ["4"] * 3


def test_attribute_directions_on_the_default_model(tmp_path):
    """A few hundred judged samples of faces64: the yaw boundary separates held-out samples well,
    and walking along it moves the yaw that a second, separately trained judge measures."""
    dirs, out = str(tmp_path / "attr"), str(tmp_path / "yaw")
    assert main(["edit", "find", "--method", "attribute", "--attribute", "yaw,smile", "--samples", "400",
                 "--share", "0.25", "--out", dirs]) == 0
    meta = json.load(open(os.path.join(dirs, "directions.json")))
    acc = {d["name"]: d["accuracy"] for d in meta["directions"]}
    assert acc["yaw"] > 0.8, acc
    assert os.path.isfile(os.path.join(dirs, "labels.npz"))
    assert main(["edit", "apply", "--seeds", "0-11", "--directions", dirs, "--attribute", "yaw",
                 "--strengths=-3,3,3", "--out", out]) == 0
    rows = list(csv.DictReader(open(os.path.join(out, "sweep.csv"))))
    by = {}
    for r in rows:
        if r["yaw_5pt"]:
            by.setdefault(float(r["strength"]), []).append(float(r["yaw_5pt"]))
    assert np.mean(by[3.0]) > np.mean(by[-3.0]) + 0.02, {k: np.mean(v) for k, v in by.items()}


def test_bad_input_is_one_line_exit_2(tiny_ckpt, tmp_path, capsys):
    dirs = str(tmp_path / "dirs")
    assert main(["edit", "find", "--model", tiny_ckpt, "--method", "sefa", "--out", dirs]) == 0
    capsys.readouterr()
    cases = [
        (["--seeds", "0", "--directions", dirs, "--index", "0", "--model", "faces64"], "directions were found on a"),
        (["--seeds", "0", "--directions", str(tmp_path), "--index", "0", "--model", tiny_ckpt], "not a directions folder"),
        (["--seeds", "0", "--directions", dirs, "--attribute", "beard", "--model", tiny_ckpt], "not among these"),
        (["--seeds", "0", "--directions", dirs, "--index", "99", "--model", tiny_ckpt], "--index 99"),
        (["--seeds", "0", "--directions", dirs, "--index", "0", "--model", tiny_ckpt, "--layers", "0-40"], "--layers"),
    ]
    for args, needle in cases:
        assert main(["edit", "apply", *args, "--out", str(tmp_path / "x")]) == 2, args
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1, err
    bad = tmp_path / "bad.npz"
    np.savez(bad, latent=np.zeros((1, 3)), meta=np.array(json.dumps({"kind": "w"})))
    assert main(["edit", "apply", "--latent", str(bad), "--directions", dirs, "--index", "0", "--model", tiny_ckpt,
                 "--out", str(tmp_path / "y")]) == 2
    assert "3 dimensions" in capsys.readouterr().err
    assert main(["edit", "find", "--method", "attribute", "--attribute", "beard", "--out", str(tmp_path / "z")]) == 2
    assert "unknown" in capsys.readouterr().err
