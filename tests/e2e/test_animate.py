"""`uncanny animate` end to end: a photo and a generated face driven by a clip with a known
motion (made from a real photo), the outputs and their provenance, the measurements, the
latent method, a SIGKILL and --resume, and bad input as one line with exit 2."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
from PIL import Image

from uncanny import motion
from uncanny.cli import main
from uncanny.faces import load_image
from uncanny.media import save_video


@pytest.fixture(scope="module")
def jaw_clip(celeba_photos, tmp_path_factory):
    """12 frames of a real photo opening its mouth and closing it again, as an MP4."""
    img = load_image(celeba_photos[6])
    frames, targets = motion.motion_clip(img, motion.detect_landmarks(img), "jaw", n=12, amount=0.35)
    path = str(tmp_path_factory.mktemp("clip") / "jaw.mp4")
    save_video(path, frames, 12)
    return path


def _rows(out):
    return list(csv.DictReader(open(os.path.join(out, "motion.csv"))))


def _f(rows, key):
    return np.array([float(r[key]) for r in rows])


def test_a_photo_follows_the_clip_and_every_output_is_written(celeba_photos, jaw_clip, tmp_path):
    out = str(tmp_path / "anim")
    assert main(["animate", celeba_photos[1], jaw_clip, "--out", out]) == 0
    rows = _rows(out)
    assert [int(r["frame"]) for r in rows] == list(range(12))
    assert sorted(os.listdir(os.path.join(out, "frames"))) == [f"{t:04d}.png" for t in range(12)]
    src = Image.open(celeba_photos[1])
    assert Image.open(os.path.join(out, "frames", "0005.png")).size == src.size      # the source's framing
    # the result follows the transferred motion: dlib finds its landmarks nearer the target than a
    # still image is, and its mouth opens and closes with the driver's
    moving = _f(rows, "still_error") > 0.04
    assert moving.sum() >= 4
    assert (_f(rows, "landmark_error")[moving] < 0.6 * _f(rows, "still_error")[moving]).all()
    assert np.corrcoef(_f(rows, "target_mouth_open"), _f(rows, "result_mouth_open"))[0, 1] > 0.9
    assert (_f(rows, "identity") < 0.6).all() and (_f(rows, "identity_mirror") < 0.6).all()   # still the same person
    assert all(r["driving_face_found"] == "1" and r["interpolated"] == "0" for r in rows)
    # videos with every frame, and provenance in every file
    assert sum(1 for _ in imageio.get_reader(os.path.join(out, "result.mp4"), format="FFMPEG")) == 12
    assert Image.open(os.path.join(out, "result.gif")).n_frames == 12
    sbs = imageio.get_reader(os.path.join(out, "side_by_side.mp4"), format="FFMPEG")
    first = sbs.get_data(0)
    assert first.shape[1] > 2.5 * first.shape[0] * 0.8           # three panels side by side
    prov = json.loads(Image.open(os.path.join(out, "frames", "0003.png")).text["uncanny"])
    assert prov["synthetic"] is True and prov["source"] == celeba_photos[1]
    assert b"synthetic" in Image.open(os.path.join(out, "result.gif")).info["comment"]
    meta = subprocess.run([__import__("imageio_ffmpeg").get_ffmpeg_exe(), "-i", os.path.join(out, "result.mp4"),
                           "-f", "ffmetadata", "-"], capture_output=True, text=True).stdout
    assert '"synthetic": true' in meta
    run = json.load(open(os.path.join(out, "run.json")))
    assert run["verb"] == "animate" and run["frames"] == 12 and run["landmark_error"] < run["still_error"]


def test_the_mark_is_there_by_default_and_gone_with_no_mark(celeba_photos, jaw_clip, tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert main(["animate", celeba_photos[1], jaw_clip, "--out", a, "--max-frames", "2"]) == 0
    assert main(["animate", celeba_photos[1], jaw_clip, "--out", b, "--max-frames", "2", "--no-mark"]) == 0
    fa, fb = (np.asarray(Image.open(os.path.join(d, "frames", "0001.png"))).astype(int) for d in (a, b))
    diff = np.argwhere((fa != fb).any(-1))
    assert len(diff) > 50 and diff[:, 0].min() > 0.75 * fa.shape[0]      # only the corner label differs
    assert "uncanny" in Image.open(os.path.join(b, "frames", "0001.png")).text   # provenance stays


def test_a_generated_face_from_a_frame_folder_with_a_faceless_frame(jaw_clip, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    frames = [f for f, _ in zip(imageio.get_reader(jaw_clip, format="FFMPEG"), range(6))]
    frames[3] = np.full_like(frames[3], 128)                       # a frame where no face can be found
    for t, f in enumerate(frames):
        Image.fromarray(f).save(folder / f"f{t:02d}.png")
    out = str(tmp_path / "gen")
    assert main(["animate", "faces64", str(folder), "--seed", "1", "--size", "128", "--out", out]) == 0
    rows = _rows(out)
    assert [r["interpolated"] for r in rows] == ["0", "0", "0", "1", "0", "0"]
    assert Image.open(os.path.join(out, "frames", "0000.png")).size == (128, 128)
    assert json.load(open(os.path.join(out, "run.json")))["fps"] == 12


def test_latent_method_through_a_foil_run(tiny_ckpt, tmp_path, jaw_clip, monkeypatch):
    """The tiny random model makes no face dlib can find; the real default does, so the latent
    path runs on faces64 and a 2-iteration foil run of it."""
    run = str(tmp_path / "foil")
    assert main(["foil", "--model", "faces64", "--out", run, "--iters", "2", "--snapshots", "0,1,2", "--faces-every",
                 "0", "--seeds", "0-1", "--batch", "2"]) == 0
    out = str(tmp_path / "lat")
    assert main(["animate", "faces64", jaw_clip, "--seed", "1", "--method", "latent", "--steps", "3",
                 "--max-frames", "4", "--run", run, "--out", out]) == 0
    w = np.load(os.path.join(out, "driving_w.npy"))
    assert w.shape[0] == 4 and np.abs(w[1] - w[0]).max() > 0      # one W+ per driving frame, and they move
    assert len(os.listdir(os.path.join(out, "frames"))) == 4
    assert Image.open(os.path.join(out, "arc.png")).size[0] > 3 * 64   # the frame through the 3 snapshots
    # restricted to the span of SeFa directions: the run still goes, and moves less than unrestricted
    dirs = str(tmp_path / "dirs")
    assert main(["edit", "find", "--model", "faces64", "--method", "sefa", "--n-directions", "3", "--out", dirs]) == 0
    out2 = str(tmp_path / "lat-dirs")
    assert main(["animate", "faces64", jaw_clip, "--seed", "1", "--method", "latent", "--steps", "3",
                 "--max-frames", "4", "--directions", dirs, "--out", out2]) == 0
    assert np.array_equal(np.load(os.path.join(out2, "driving_w.npy")), w)     # the same projections
    from uncanny.animate_latent import span_projector
    from uncanny.edit import load_directions
    P = span_projector(load_directions(dirs).vectors)
    d = torch.from_numpy(w[3] - w[0])
    assert torch.allclose(P @ P, P, atol=1e-5) and (d @ P).norm() < d.norm()
    # a foil snapshot RUN/ITER as the source of the warp
    assert main(["animate", f"{run}/2", jaw_clip, "--seed", "1", "--max-frames", "2", "--size", "96",
                 "--out", str(tmp_path / "snap")]) == 0
    assert json.load(open(tmp_path / "snap" / "run.json"))["frames"] == 2


def test_sigkill_then_resume_finishes_with_the_same_frames(celeba_photos, jaw_clip, tmp_path):
    clean, killed = str(tmp_path / "clean"), str(tmp_path / "killed")
    assert main(["animate", celeba_photos[1], jaw_clip, "--out", clean, "--no-mark"]) == 0
    cmd = [sys.executable, "-m", "uncanny", "animate", celeba_photos[1], jaw_clip, "--out", killed, "--no-mark"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not os.path.isfile(os.path.join(killed, "frames", "0004.png")) and time.time() < deadline:
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not os.path.isfile(os.path.join(killed, "result.mp4"))
    assert main(["animate", celeba_photos[1], jaw_clip, "--out", killed, "--no-mark"]) == 2   # refuses without --resume
    assert main(["animate", celeba_photos[1], jaw_clip, "--out", killed, "--no-mark", "--resume"]) == 0
    for t in range(12):
        a, b = (np.asarray(Image.open(os.path.join(d, "frames", f"{t:04d}.png"))) for d in (clean, killed))
        assert (a == b).all(), t
    assert [r["frame"] for r in _rows(killed)] == [str(t) for t in range(12)]


def _err(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.replace("\r", "\n")
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("uncanny: error")]
    return code, "\n".join(lines)


def test_bad_input_is_one_line_and_exit_2(celeba_photos, jaw_clip, tmp_path, capsys):
    blank = str(tmp_path / "blank.png")
    Image.new("RGB", (200, 200), (120, 120, 120)).save(blank)
    not_video = str(tmp_path / "notes.mp4")
    open(not_video, "w").write("this is not a video\n")
    faceless = tmp_path / "faceless"
    faceless.mkdir()
    for t in range(3):
        Image.new("RGB", (100, 100), (t * 40, 90, 90)).save(faceless / f"{t}.png")
    two = str(tmp_path / "two.png")
    a, b = load_image(celeba_photos[1]), load_image(celeba_photos[6])
    Image.fromarray(np.concatenate([a, b], 1)).save(two)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    out = str(tmp_path / "o")
    cases = [([blank, jaw_clip], "no face found in the source"),
             ([celeba_photos[1], not_video], "not a readable video"),
             ([celeba_photos[1], str(faceless)], "no face found in any of its 3 frames"),
             ([two, jaw_clip], "--face K"),
             ([two, jaw_clip, "--face", "5"], "--face 5"),
             (["faces64", jaw_clip], "--seed"),
             ([celeba_photos[1], jaw_clip, "--method", "latent"], "needs a GAN source"),
             ([celeba_photos[1], str(tmp_path / "missing.mp4")], "no such file"),
             ([celeba_photos[1], jaw_clip, "--max-frames", "0"], "--max-frames"),
             ([celeba_photos[1], celeba_photos[2]], "not a video"),
             ([celeba_photos[1], jaw_clip, "--run", str(tmp_path)], "--run is for --method latent")]
    for argv, words in cases:
        code, err = _err(capsys, ["animate", *argv, "--out", out])
        assert code == 2 and len(err.splitlines()) == 1 and words in err, (argv, err)
        assert not os.path.exists(out), argv                     # nothing written for bad input
    code, err = _err(capsys, ["animate", celeba_photos[1], jaw_clip, "--out", os.path.join(blank, "x")])
    assert code == 2 and "not a writable folder" in err             # under a file: no folder can be made
    if os.geteuid() != 0:                                        # root writes anywhere
        code, err = _err(capsys, ["animate", celeba_photos[1], jaw_clip, "--out", str(ro / "x")])
        assert code == 2 and "not a writable folder" in err


@pytest.mark.parametrize("ext,codec", [(".gif", None), (".webm", "libvpx-vp9"), (".mov", "libx264")])
def test_driving_clips_in_every_container(jaw_clip, tmp_path, ext, codec):
    from uncanny.animate import read_driving
    frames = [f for f, _ in zip(imageio.get_reader(jaw_clip, format="FFMPEG"), range(5))]
    path = str(tmp_path / ("clip" + ext))
    if codec is None:
        save_video(path, frames, 10)
    else:
        with imageio.get_writer(path, format="FFMPEG", fps=10, codec=codec, macro_block_size=1,
                                ffmpeg_log_level="error") as w:
            for f in frames:
                w.append_data(f)
    got, fps = read_driving(path, None)
    assert len(got) == 5 and got[0].shape == frames[0].shape[:2] + (3,) and abs(fps - 10) < 0.5
    assert np.abs(got[2].astype(int) - frames[2]).mean() < 12          # the same pictures, lossy codecs aside
    assert len(read_driving(path, 3)[0]) == 3


def test_a_fomm_checkpoint_drives_a_photo(celeba_photos, jaw_clip, tmp_path, capsys):
    """No trained FOMM weights can be had here: a small random model in the original layout
    checks the path from the command line to the frames (the faces it makes are noise)."""
    import torch
    from uncanny.nets.fomm import FommConfig, Generator, KeypointDetector
    cfg = FommConfig(num_kp=4, kp_block_expansion=4, kp_max_features=16, kp_num_blocks=3, block_expansion=8,
                     max_features=32, num_bottleneck_blocks=1, dm_block_expansion=4, dm_max_features=16, dm_num_blocks=3)
    torch.manual_seed(0)
    cpk = str(tmp_path / "cpk.pth.tar")
    torch.save({"generator": Generator(cfg).state_dict(), "kp_detector": KeypointDetector(cfg).state_dict()}, cpk)
    out = str(tmp_path / "fomm")
    assert main(["animate", celeba_photos[1], jaw_clip, "--fomm", cpk, "--max-frames", "3", "--out", out]) == 0
    run = json.load(open(os.path.join(out, "run.json")))
    assert run["config"]["method"] == "fomm" and run["frames"] == 3
    src = load_image(celeba_photos[1])
    frame = np.asarray(Image.open(os.path.join(out, "frames", "0002.png")))
    assert frame.shape == src.shape
    from uncanny.fomm import face_box
    cx, cy, side = face_box(motion.detect_landmarks(src))
    far = np.zeros(src.shape[:2], bool)
    far[:, : max(0, int(cx - side / 2) - 1)] = True                # left of the face's square: the photo is kept
    far[max(0, int(cy + side / 2) + 1):] = True
    assert far.sum() == 0 or (frame[far] == src[far]).all()
    assert np.abs(frame.astype(int) - src).mean() > 1               # and inside it, the model's output
    broken = str(tmp_path / "broken.pth.tar")
    open(broken, "wb").write(b"not a checkpoint")
    code, err = _err(capsys, ["animate", celeba_photos[1], jaw_clip, "--fomm", broken, "--out", str(tmp_path / "b")])
    assert code == 2 and broken in err and not os.path.exists(tmp_path / "b")


def test_large_driving_frames_are_scaled_down_on_reading(tmp_path):
    from uncanny.animate import DRIVING_MAX_SIDE, read_driving
    Image.new("RGB", (1300, 900), (90, 80, 70)).save(tmp_path / "a.png")
    Image.new("RGB", (650, 450), (90, 80, 70)).save(tmp_path / "b.png")
    frames, fps = read_driving(str(tmp_path), None)
    assert fps is None and [f.shape for f in frames] == [(443, DRIVING_MAX_SIDE, 3)] * 2
