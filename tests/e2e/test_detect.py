"""detect, attack and detector train through the CLI, on real photos and real samples."""

import csv
import os

import numpy as np
from PIL import Image

from uncanny.cli import main


def _sample(tmp_path, seed=7):
    import torch
    from uncanny.adapters import load_gan
    from uncanny.media import to_uint8
    from uncanny.util import seed_z
    gan = load_gan("faces64")
    with torch.no_grad():
        img = to_uint8(gan.generate(seed_z([seed], gan.z_dim)))[0]
    path = str(tmp_path / f"sample{seed}.png")
    Image.fromarray(img).save(path)
    return path


def test_detect_tells_a_photo_from_a_sample_and_writes_maps(celeba_photos, tmp_path, capsys):
    sample, photo = _sample(tmp_path), celeba_photos[10]
    noise = str(tmp_path / "noise.png")
    Image.fromarray((np.random.RandomState(0).rand(90, 90, 3) * 255).astype(np.uint8)).save(noise)
    out = str(tmp_path / "det")
    assert main(["detect", sample, photo, noise, "--out", out]) == 0
    rows = {os.path.basename(r["path"]): r for r in csv.DictReader(open(os.path.join(out, "scores.csv")))}
    assert rows["sample7.png"]["verdict"] == "fake" and rows[os.path.basename(photo)]["verdict"] == "real"
    assert rows["noise.png"]["face_found"] == "0"
    for r in rows.values():
        assert 0 <= float(r["fake_score"]) <= 1
    assert sorted(os.listdir(os.path.join(out, "maps"))) == sorted(
        os.path.splitext(n)[0] + ".png" for n in rows)
    assert main(["detect", sample, "--detector", "d:faces64", "--out", str(tmp_path / "d")]) == 0


def test_attack_flips_the_verdict_within_eps_and_writes_pngs(celeba_photos, tmp_path):
    sample, photo = _sample(tmp_path, 3), celeba_photos[15]
    out = str(tmp_path / "att")
    # 8/255: PGD flips every held-out image at that budget (docs/DETECTION.md), 4/255 most of them
    assert main(["attack", sample, photo, "--eps", "8/255", "--out", out]) == 0
    rows = list(csv.DictReader(open(os.path.join(out, "attack.csv"))))
    assert len(rows) == 2 and all(r["flipped"] == "1" for r in rows), rows
    for r, src in zip(rows, (sample, photo)):
        adv = np.asarray(Image.open(r["out"])).astype(int)
        orig = np.asarray(Image.open(src).convert("RGB")).astype(int)
        assert adv.shape == orig.shape and 0 < np.abs(adv - orig).max() <= 8      # its own size, within eps
        assert float(r["psnr_db"]) > 30     # within 8/255 the MSE is at most 64
    assert sorted(os.listdir(os.path.join(out, "perturbation"))) == sorted(
        os.path.splitext(os.path.basename(p))[0] + ".png" for p in (sample, photo))
    out2 = str(tmp_path / "l2")      # an L2 ball: the whole perturbation's norm stays within eps
    assert main(["attack", sample, "--norm", "l2", "--eps", "0.5", "--method", "fgsm", "--out", out2]) == 0
    r = list(csv.DictReader(open(os.path.join(out2, "attack.csv"))))[0]
    assert 0 < float(r["l2"]) <= 0.5 + 0.02           # (8-bit rounding)


def test_detector_train_writes_a_detector_that_detect_can_use(tiny_ckpt, tmp_path):
    run = str(tmp_path / "foil")
    assert main(["foil", "--model", tiny_ckpt, "--out", run, "--iters", "2", "--snapshots", "0,2",
                 "--faces-every", "0", "--seeds", "0-3"]) == 0
    out = str(tmp_path / "det")
    assert main(["detector", "train", "--out", out, "--steps", "10", "--per-group", "24", "--test-per-group", "8",
                 "--foil-runs", run, "--exclude", "dcgan"]) == 0
    import json
    meta = json.load(open(os.path.join(out, "detector.json")))
    assert meta["excluded"] == ["dcgan"] and "dcgan" in meta["test"] and meta["calibration"]["threshold"] == \
        meta["calibration"]["threshold"]
    # the default model is a group of its own; the foil group is the snapshots after iteration 0 (the
    # model itself), so leaving a model out leaves it out entirely
    assert meta["generators"]["faces64v2"] == ["faces64v2"] and meta["generators"]["foil"] == ["foil/2"]
    assert os.path.isfile(os.path.join(out, "samples.png"))
    assert main(["detect", _sample(tmp_path), "--detector", out, "--out", str(tmp_path / "d")]) == 0


def test_foil_records_a_detectors_verdict(tiny_ckpt, tmp_path):
    out = str(tmp_path / "foil")
    assert main(["foil", "--model", tiny_ckpt, "--out", out, "--iters", "4", "--snapshots", "0,4", "--faces-every", "2",
                 "--seeds", "0-3", "--detector", "detector64"]) == 0
    rows = list(csv.DictReader(open(os.path.join(out, "metrics.csv"))))
    assert [r["detector_fake"] != "" for r in rows] == [True, False, True, False, True]


def test_bad_input_is_one_line_exit_2(tmp_path, capsys):
    tiny = str(tmp_path / "tiny.png")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tiny)
    text = str(tmp_path / "notes.png")
    open(text, "w").write("not an image")
    cases = [(["detect", text], "not a readable image"), (["detect", tiny], "only 4x4"),
             (["detect", tiny, "--detector", "nonsense"], "--detector nonsense"),
             (["attack", tiny, "--eps", "2"], "below 1"), (["attack", tiny, "--eps", "x"], "--eps x"),
             (["detector", "train", "--exclude", "cats"], "--exclude cats")]
    for args, needle in cases:
        assert main(args + ["--out", str(tmp_path / "o")]) == 2, args
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1, err
