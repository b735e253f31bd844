"""Projection of real photos (astronaut, Grace Hopper): outputs, PSNR rises, chains, loops, render."""

import csv
import json
import os

import matplotlib
import numpy as np
import pytest
from PIL import Image

from uncanny.cli import main
from uncanny.latents import load_latent

HOPPER = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data", "grace_hopper.jpg")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from skimage import data
    d = tmp_path_factory.mktemp("photos")
    Image.fromarray(data.astronaut()).save(d / "astronaut.png")
    Image.new("RGB", (200, 200), "gray").save(d / "blank.png")
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    return {"astronaut": str(d / "astronaut.png"), "hopper": HOPPER, "blank": str(d / "blank.png"),
            "broken": str(d / "broken.jpg")}


def _rows(folder):
    with open(os.path.join(folder, "frames.csv")) as f:
        return list(csv.DictReader(f))


def test_project_writes_every_output_and_psnr_rises(tiny_ckpt, photos, tmp_path, capsys):
    out = str(tmp_path / "p")
    assert main(["project", photos["astronaut"], "--model", tiny_ckpt, "--out", out, "--steps", "40",
                 "--every", "10"]) == 0
    face = os.path.join(out, "00-astronaut")
    for f in ("target.png", "projection.png", "latent.npz", "search.mp4", "search.gif", "frames.csv", "identity.png"):
        assert os.path.isfile(os.path.join(face, f)), f
    assert Image.open(os.path.join(face, "target.png")).size == (16, 16)
    rows = _rows(face)
    assert [int(r["step"]) for r in rows] == [0, 10, 20, 30, 40]
    assert float(rows[-1]["psnr"]) > float(rows[0]["psnr"]) + 1
    lat, meta = load_latent(os.path.join(face, "latent.npz"))
    assert lat.kind == "w" and lat.value.shape == (1, 32) and meta["source"].endswith("astronaut.png")
    import imageio.v2 as imageio
    assert len(imageio.mimread(os.path.join(face, "search.mp4"), memtest=False)) >= 6 * 24   # held to 6 s


def test_chain_loop_is_seamless_and_skips_bad_photos(tiny_ckpt, photos, tmp_path, capsys):
    out = str(tmp_path / "loop")
    imgs = [photos["astronaut"], photos["blank"], photos["hopper"], photos["broken"], photos["astronaut"]]
    assert main(["project", *imgs, "--model", tiny_ckpt, "--out", out, "--steps", "20", "--every", "10",
                 "--loop", "--w-plus"]) == 0
    printed = capsys.readouterr().out
    s = json.load(open(os.path.join(out, "summary.json")))
    assert len(s["skipped"]) == 2 and any("no face found" in v for v in s["skipped"].values())
    assert [f["started_from"] for f in s["faces"]] == ["mean W", "previous face", "previous face", "previous face"]
    assert s["loop_seam"]["mean_abs_pixel_difference"] == 0.0
    assert os.path.isfile(os.path.join(out, "chain.mp4")) and s["chain_frames"] == 3 * 3
    assert "loop seam" in printed


def test_render_through_every_foil_snapshot(tiny_ckpt, photos, tmp_path):
    proj, run = str(tmp_path / "p"), str(tmp_path / "foil")
    assert main(["project", photos["hopper"], "--model", tiny_ckpt, "--out", proj, "--steps", "5"]) == 0
    assert main(["foil", "--model", tiny_ckpt, "--out", run, "--iters", "10", "--snapshots", "0,5,10",
                 "--faces-every", "0"]) == 0
    latent = os.path.join(proj, "00-grace_hopper", "latent.npz")
    strip = str(tmp_path / "strip.png")
    assert main(["render", latent, "--run", run, "--out", strip]) == 0
    assert Image.open(strip).size[0] == 3 * 128 and os.path.isfile(str(tmp_path / "strip.mp4"))
    one = str(tmp_path / "one.png")
    assert main(["render", latent, "--snapshot", f"{run}/5", "--out", one]) == 0
    a = np.asarray(Image.open(strip))[:, :128]
    b = np.asarray(Image.open(strip))[:, 256:]
    assert not np.array_equal(a, b)  # the foiled generator renders the same latent differently


def test_project_bad_inputs(tiny_ckpt, photos, tmp_path, capsys):
    assert main(["project", photos["blank"], "--model", tiny_ckpt, "--out", str(tmp_path / "x")]) == 2
    assert "none of the images has a usable face" in capsys.readouterr().err
    assert main(["project", photos["astronaut"], "--model", tiny_ckpt, "--out", str(tmp_path / "y"),
                 "--face", "3"]) == 2
    assert "--face 3" in capsys.readouterr().err
    assert main(["project", photos["astronaut"], "--model", tiny_ckpt, "--out", str(tmp_path / "z"),
                 "--steps", "0"]) == 2


def test_default_model_brings_both_faces_closer_in_identity(photos, tmp_path):
    """The issue's done-criterion on a short run of the embedded default model: for the
    astronaut and Grace Hopper, PSNR rises and the final frame's dlib identity distance is
    lower than the first frame's; dlib finds a face in both projections, and every output is written."""
    out = str(tmp_path / "p")
    assert main(["project", photos["astronaut"], photos["hopper"], "--out", out, "--steps", "100",
                 "--every", "20"]) == 0
    s = json.load(open(os.path.join(out, "summary.json")))
    assert len(s["faces"]) == 2
    for f in s["faces"]:
        rows = _rows(f["folder"])
        assert float(rows[-1]["psnr"]) > float(rows[0]["psnr"]) + 3, f["image"]
        assert float(rows[-1]["identity"]) < float(rows[0]["identity"]) - 0.05, f["image"]
        assert float(rows[1]["id_loss"]) > 0  # the identity term is in the loss
        assert f["final"]["face_found"], "dlib's detector finds a face in the projection"
        for name in ("target.png", "projection.png", "latent.npz", "search.mp4", "search.gif", "frames.csv"):
            assert os.path.isfile(os.path.join(f["folder"], name))


def _random_vgg16(path, seed=0):
    """A VGG16 state dict with torchvision's key names and shapes (random values: no real
    weights can be downloaded here), plus classifier keys LPIPS must ignore."""
    import torch
    from uncanny.losses import VGG16_CONVS
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for c in VGG16_CONVS:
        if c != "pool":
            i, cin, cout = c
            sd[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * (2 / (9 * cin)) ** 0.5
            sd[f"features.{i}.bias"] = torch.zeros(cout)
    sd["classifier.0.weight"] = torch.zeros(8, 8)
    torch.save(sd, path)
    return sd


def test_lpips_from_user_weights(tiny_ckpt, photos, tmp_path, capsys):
    import torch
    from uncanny.losses import LPIPS, LPIPS_WIDTHS
    vgg = str(tmp_path / "vgg16.pth")
    _random_vgg16(vgg)
    lin = str(tmp_path / "lin.pth")
    torch.save({f"lin{k}.model.1.weight": torch.rand(1, w, 1, 1) for k, w in enumerate(LPIPS_WIDTHS)}, lin)
    lp = LPIPS.from_files(vgg, lin)
    assert lp.calibrated
    x, y = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    assert [f.shape[1:] for f in lp.features(x)] == [(64, 64, 64), (128, 32, 32), (256, 16, 16), (512, 8, 8), (512, 4, 4)]
    assert torch.allclose(lp(x, x), torch.zeros(2), atol=1e-6) and (lp(x, y) > 0).all()
    assert torch.allclose(lp(x, y), lp(x, lp.features(y)))   # precomputed target features
    # the CLI: LPIPS joins the loss and is logged per frame
    out = str(tmp_path / "p")
    assert main(["project", photos["astronaut"], "--model", tiny_ckpt, "--out", out, "--steps", "10",
                 "--every", "5", "--lpips-weights", vgg, "--id-weight", "0"]) == 0
    assert float(_rows(os.path.join(out, "00-astronaut"))[0]["lpips"]) > 0
    # bad files: one line naming the file, before anything is written
    (tmp_path / "text.pth").write_text("not weights")
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    for bad, msg in (("text.pth", "not a readable weights file"), ("other.pth", "no features.0.weight"),
                     ("missing.pth", "no such file")):
        assert main(["project", photos["astronaut"], "--model", tiny_ckpt, "--out", str(tmp_path / "q"),
                     "--lpips-weights", str(tmp_path / bad)]) == 2
        err = capsys.readouterr().err
        assert bad in err and msg in err, err
        assert not os.path.exists(tmp_path / "q")


def test_identity_meter_measures_frames_without_a_detectable_face(photos):
    from uncanny.identity import IdentityMeter
    from uncanny.project import load_target
    target = load_target(photos["hopper"], 64)
    meter = IdentityMeter(target)
    assert meter(target) == (0.0, True)
    gray = np.full_like(target, 128)
    d, found = meter(gray)  # no face for the detector: measured at the target's landmarks
    assert not found and 0.3 < d < 2.0
    other, found = meter(load_target(photos["astronaut"], 64))
    assert found and other > 0.3
    assert IdentityMeter(gray)(target) == (pytest.approx(float("nan"), nan_ok=True), False)


def test_transformed_identity_exposes_a_fit_to_the_measuring_network(photos):
    """The trap the transformed measure is for: pixels optimised against dlib's network on the
    plain target chip (a small perturbation of another person's face) fool the plain distance,
    not the mirrored or blurred one. The meter flags the disagreement and judges on the latter."""
    import torch
    from uncanny.losses import IdentityLoss
    from uncanny.media import from_uint8, to_uint8
    from uncanny.identity import DISAGREE, IdentityMeter
    from uncanny.project import load_target
    hopper, astronaut = load_target(photos["hopper"], 64), load_target(photos["astronaut"], 64)
    meter = IdentityMeter(hopper)
    honest = meter.measure(astronaut)
    assert honest["identity"] > 0.6 and honest["identity_judged"] > 0.6  # two different people

    loss = IdentityLoss(meter.face, from_uint8(hopper), meter.upscale)
    x0 = from_uint8(astronaut)
    delta = torch.zeros_like(x0, requires_grad=True)
    opt = torch.optim.Adam([delta], lr=0.01)
    for _ in range(40):
        d = loss((x0 + delta).clamp(-1, 1)).mean()
        opt.zero_grad()
        d.backward()
        opt.step()
        with torch.no_grad():
            delta.clamp_(-0.12, 0.12)  # at most 6% of the intensity range per pixel
    fooled = meter.measure(to_uint8((x0 + delta).clamp(-1, 1))[0])
    assert fooled["identity"] < 0.6, fooled                    # the plain measure is fooled
    assert fooled["identity_judged"] > fooled["identity"] + DISAGREE, fooled
    assert fooled["disagree"] == 1
    same = meter.measure(hopper)                               # the target itself: all agree
    assert same["identity"] == 0 and same["identity_judged"] < 0.1 and same["disagree"] == 0


def test_identifiable_step_is_where_the_distance_stays_under_the_threshold():
    from uncanny.identity import identifiable_step
    rows = [{"step": s, "identity_judged": d, "identity": p}
            for s, d, p in [(0, 0.8, 0.8), (10, 0.59, 0.5), (20, 0.62, 0.4), (30, 0.55, 0.3), (40, 0.5, 0.3)]]
    assert identifiable_step(rows) == 30            # the dip at 10 came back out
    assert identifiable_step(rows, "identity") == 10
    assert identifiable_step(rows[:3]) is None      # not under the threshold at the end


def test_kill_9_then_resume_gives_the_uninterrupted_projections(celeba_photos, tiny_ckpt, tmp_path):
    """SIGKILL after the first face is finished, --resume: finished faces are kept, the rest are
    projected again from the same start, and the latents equal an uninterrupted run's bit for bit."""
    import signal
    import subprocess
    import sys
    import time

    import numpy as np
    photos = list(celeba_photos[:3])
    args = ["--model", tiny_ckpt, "--steps", "60", "--every", "10", "--chain", "--id-weight", "0"]
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    assert subprocess.run([sys.executable, "-m", "uncanny", "project", *photos, "--out", full, *args], env=env,
                          capture_output=True).returncode == 0
    p = subprocess.Popen([sys.executable, "-m", "uncanny", "project", *photos, "--out", killed, *args], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not any(os.path.isfile(os.path.join(killed, d, "face.json"))
                                             for d in (os.listdir(killed) if os.path.isdir(killed) else [])):
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not os.path.isfile(os.path.join(killed, "summary.json"))          # an interrupted run never looks done
    r = subprocess.run([sys.executable, "-m", "uncanny", "project", "--out", killed, "--resume"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-500:]
    faces = sorted(d for d in os.listdir(full) if d[:2].isdigit())
    assert faces == sorted(d for d in os.listdir(killed) if d[:2].isdigit()) and len(faces) >= 2
    for d in faces:
        with np.load(os.path.join(full, d, "latent.npz")) as a, np.load(os.path.join(killed, d, "latent.npz")) as b:
            assert np.array_equal(a["latent"], b["latent"]), d
    assert os.path.isfile(os.path.join(killed, "summary.json")) and os.path.isfile(os.path.join(killed, "chain.mp4"))
