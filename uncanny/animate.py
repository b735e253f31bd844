"""Animate: a still face (a photo, a GAN sample, a foiled face) driven by the motion of a video.

    uncanny animate photo.jpg driving.mp4 --out runs/anim              # landmark-driven warp
    uncanny animate faces64 clip/ --seed 3 --out runs/anim-sample      # a generated face as target
    uncanny animate runs/foil1/500 clip.gif --seed 3 --out runs/anim-foiled
    uncanny animate faces64 clip.mp4 --seed 3 --method latent --run runs/foil1 --out runs/anim-arc

    from uncanny.animate import AnimateConfig, animate

No learned motion model can be had offline (FOMM's and every reenactment model's weights
download from outside), so motion comes from what installs: dlib's 68 landmarks, a warp, and
the project's own GANs.

Methods:
  warp    (default) landmarks on every driving frame, smoothed over time (One-Euro filter),
          frames without a face interpolated and flagged; the motion transferred *relatively*
          (the source's landmarks plus each frame's displacement from the first driving frame,
          rotated and scaled onto the source face, as FOMM's relative/adapt_scale mode); the
          source warped to those landmarks by a thin-plate spline, background held by a
          feathered mask, an opened mouth given an interior (uncanny/motion.py)
  latent  GAN sources only: each driving face projected into W+ (`project`, warm-started from
          the previous frame), its displacement from the first frame added to the source's
          latent (restricted to directions from `uncanny edit find` with --directions),
          rendered through the model, or through every snapshot of a foil run (--run): one
          performance across the whole arc from lifelike to uncanny

Outputs (OUT): frames/NNNN.png (one per driving frame, the source's framing), result.mp4,
result.gif, side_by_side.mp4 (source | driving | result), motion.csv, source.png, run.json.
Every frame carries a small visible "synthetic" mark (--no-mark omits it) and every file its
provenance in the metadata (PNG text, MP4 comment, GIF comment).
"""

from __future__ import annotations

import datetime
import json
import os
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from PIL import Image

from . import __version__, faces, motion
from .errors import UncannyError
from .faces import IMAGE_EXTS, load_image
from .media import label, save_png, save_video, to_uint8
from .options import non_negative, option, positive, positive_or_none, validate
from .runs import RunFolder
from .util import progress, resolve_device, seed_z

METHODS = ("warp", "latent", "fomm")
VIDEO_EXTS = {".mp4", ".webm", ".mov", ".gif", ".avi", ".mkv", ".m4v"}
DRIVING_MAX_SIDE = 640   # driving frames only give landmarks and a panel: larger ones are scaled down on reading
COLUMNS = ["frame", "driving_face_found", "interpolated", "displacement", "target_mouth_open", "result_mouth_open",
           "landmark_error", "still_error", "result_face_found", "identity", "identity_mirror", "file"]


@dataclass
class AnimateConfig:
    source: str = option(None, "the still face: an image file, an embedded model or checkpoint (with --seed), or "
                         "a foil snapshot RUN/ITER (with --seed)", positional=True)
    driving: str = option(None, "the motion: a video (mp4, webm, mov, gif) or a folder of frames", positional=True)
    out: str = option("runs/animate", "run folder")
    method: str = option("warp", "warp: landmark-driven warp; latent: through the GAN (GAN sources only); fomm: "
                         "a First Order Motion Model checkpoint (--fomm)", choices=METHODS)
    fomm: str | None = option(None, "a First Order Motion Model checkpoint in its original layout (vox-cpk.pth.tar); "
                              "given alone, it selects --method fomm", metavar="CPK")
    face: int | None = option(None, "which face of a photo with several (0 = largest)", type=int, check=lambda v: None
                              if v is None or v >= 0 else "must be 0 or more")
    seed: int | None = option(None, "seed of the generated face (GAN sources)", type=int,
                              check=lambda v: None if v is None or v >= 0 else "must be 0 or more")
    truncation: float = option(0.8, "truncation psi of the generated face", check=positive)
    size: int = option(256, "pixels of a generated face's frames (it is enlarged from the model's size)", check=positive)
    max_side: int = option(768, "a larger photo is scaled down to this many pixels on its long side", check=positive)
    max_frames: int | None = option(None, "use at most this many driving frames", type=int, check=positive_or_none)
    fps: float | None = option(None, "frames per second of the results (default: the driving video's, 12 for a "
                               "folder)", type=float, check=positive_or_none)
    mark: bool = option(True, "omit the visible 'synthetic' mark on every frame (provenance stays in the files' "
                        "metadata)", flag="--no-mark")
    min_cutoff: float = option(1.5, "One-Euro filter: cut-off at rest, Hz (lower: steadier, more lag)", check=positive)
    beta: float = option(0.5, "One-Euro filter: how fast the cut-off rises with speed", check=non_negative)
    run: str | None = option(None, "latent method: a foil run; the performance through every snapshot")
    directions: str | None = option(None, "latent method: directions from `uncanny edit find` (their span is the "
                                    "motion the source may take)")
    steps: int = option(60, "latent method: projection steps per driving frame (the first gets 4x)", check=positive)
    device: str | None = option(None, "cpu, cuda (latent method)")
    resume: bool = option(False, "continue an interrupted animation: finished frames are kept")
    overwrite: bool = option(False, "replace an earlier animate run in --out")

    def validate(self):
        validate(self)
        if not self.source or not self.driving:
            raise UncannyError("give a SOURCE and a DRIVING clip")
        if self.fomm and self.method == "warp":
            self.method = "fomm"
        if self.method == "fomm" and not self.fomm:
            raise UncannyError("--method fomm: give the checkpoint with --fomm vox-cpk.pth.tar")
        for name in ("run", "directions"):
            if getattr(self, name) and self.method != "latent":
                raise UncannyError(f"--{name} is for --method latent (this animation uses --method {self.method})")
        if self.fomm and self.method != "fomm":
            raise UncannyError(f"--fomm and --method {self.method}: give one of them")
        if self.fomm and not os.path.isfile(self.fomm):
            raise UncannyError(f"{self.fomm}: no such file (--fomm)")


# ----------------------------------------------------------------------------- inputs


def is_image_file(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_EXTS and os.path.isfile(path)


def _shrink(img: np.ndarray, max_side: int, resample=Image.BILINEAR) -> np.ndarray:
    """The image scaled down to at most `max_side` pixels on its long side (as it is if smaller)."""
    h, w = img.shape[:2]
    if max(h, w) <= max_side:
        return img
    f = max_side / max(h, w)
    return np.asarray(Image.fromarray(img).resize((round(w * f), round(h * f)), resample))


def _fit(frame: np.ndarray) -> np.ndarray:
    return _shrink(frame, DRIVING_MAX_SIDE)


def read_driving(path: str, max_frames: int | None) -> tuple[list[np.ndarray], float | None]:
    """The driving frames (RGB uint8, at most DRIVING_MAX_SIDE pixels on a side) and the clip's
    frame rate (None for a folder), or UncannyError naming the file."""
    if os.path.isdir(path):
        names = sorted(f for f in os.listdir(path) if os.path.splitext(f)[1].lower() in IMAGE_EXTS)
        if not names:
            raise UncannyError(f"{path}: no image files in the folder")
        names = names[:max_frames] if max_frames else names
        frames = [_fit(load_image(os.path.join(path, n))) for n in names]
        if len({f.shape for f in frames}) > 1:
            size = frames[0].shape[1::-1]
            frames = [f if f.shape == frames[0].shape else np.asarray(Image.fromarray(f).resize(size, Image.BICUBIC))
                      for f in frames]
        return frames, None
    if not os.path.isfile(path):
        raise UncannyError(f"{path}: no such file or folder")
    if os.path.splitext(path)[1].lower() not in VIDEO_EXTS:
        raise UncannyError(f"{path}: not a video ({', '.join(sorted(VIDEO_EXTS))}) or a folder of frames")
    if path.lower().endswith(".gif"):           # imageio's ffmpeg plugin leaves GIFs to Pillow
        return _read_gif(path, max_frames)
    import imageio.v2 as imageio
    frames, fps = [], None
    try:
        with imageio.get_reader(path, format="FFMPEG") as r:
            fps = r.get_meta_data().get("fps")
            for f in r:
                frames.append(_fit(np.ascontiguousarray(f[..., :3])))
                if max_frames and len(frames) >= max_frames:
                    break
    except Exception as e:     # imageio raises OSError, RuntimeError, IndexError... on a broken file
        raise UncannyError(f"{path}: not a readable video ({e.__class__.__name__}: {' '.join(str(e).split())[:120]})") from None
    if not frames:
        raise UncannyError(f"{path}: the video has no frames")
    return frames, float(fps) if fps and np.isfinite(fps) and fps > 0 else None


def _read_gif(path: str, max_frames: int | None) -> tuple[list[np.ndarray], float | None]:
    from PIL import ImageSequence
    frames, durations = [], []
    try:
        with Image.open(path) as im:
            for f in ImageSequence.Iterator(im):
                frames.append(_fit(np.asarray(f.convert("RGB"))))
                durations.append(f.info.get("duration") or 0)
                if max_frames and len(frames) >= max_frames:
                    break
    except (OSError, ValueError, SyntaxError) as e:
        raise UncannyError(f"{path}: not a readable GIF ({e.__class__.__name__}: {' '.join(str(e).split())[:120]})") from None
    mean = float(np.mean([d for d in durations if d > 0])) if any(durations) else 0.0
    return frames, (1000.0 / mean if mean > 0 else None)


@dataclass
class Source:
    image: np.ndarray            # (H, W, 3) uint8, the frames' framing
    landmarks: np.ndarray        # (68, 2)
    gan: object = None           # GAN sources: the adapter, and the face's latent (1, num_ws, D)
    w: torch.Tensor | None = None


def _one_face(img: np.ndarray, path: str, face: int | None) -> np.ndarray:
    found = motion.all_landmarks(img)
    if not found:
        raise UncannyError(f"{path}: no face found in the source")
    if len(found) > 1 and face is None:
        raise UncannyError(f"{path}: the source has {len(found)} faces; choose one with --face K (0 = largest)")
    if (face or 0) >= len(found):
        raise UncannyError(f"{path}: --face {face} asked for, but the source has {len(found)} face(s)")
    return found[face or 0]


def load_source(cfg: AnimateConfig) -> Source:
    if is_image_file(cfg.source):
        img = _shrink(load_image(cfg.source), cfg.max_side, Image.LANCZOS)
        if cfg.method == "latent":
            raise UncannyError(f"{cfg.source}: --method latent needs a GAN source (a model or RUN/ITER with --seed)")
        return Source(img, _one_face(img, cfg.source, cfg.face))
    from .adapters import load_gan
    if cfg.seed is None:
        raise UncannyError(f"{cfg.source}: a generated source needs --seed N (or give an image file)")
    gan = load_gan(cfg.source, need_d=cfg.method == "latent", device=resolve_device(cfg.device))
    z = seed_z([cfg.seed], gan.z_dim, gan.device)
    with torch.no_grad():
        if "w+" in gan.latent_kinds:
            w = gan.mapping(z)
            w = gan.w_avg + cfg.truncation * (w - gan.w_avg)
            w = w.unsqueeze(1).repeat(1, gan.num_ws, 1)
            img = to_uint8(gan.synthesize("w+", w))[0]
        else:
            w, img = None, to_uint8(gan.generate(z, truncation=cfg.truncation))[0]
    if cfg.method == "latent" and w is None:
        raise UncannyError(f"{cfg.source}: --method latent needs a generator with a W space ({gan.arch} has none)")
    big = np.asarray(Image.fromarray(img).resize((cfg.size, cfg.size), Image.BICUBIC))
    lm = motion.detect_landmarks(big)
    if lm is None:
        raise UncannyError(f"{cfg.source}: dlib finds no face in the sample of seed {cfg.seed} (try another --seed)")
    return Source(big, lm, gan, w)


# ----------------------------------------------------------------------------- measurement


def _descriptor(img: np.ndarray):
    """dlib's 128-D descriptor of the largest face (None without one), found as the landmarks are."""
    big, _, found = motion.find(img)
    if not found:
        return None
    return np.array(faces.face_recogniser().compute_face_descriptor(big, found[0].shape))


class Meter:
    """Per result frame: its landmarks against the transferred target, its mouth, and dlib's
    identity distance to the source, plain and with both images mirrored."""

    def __init__(self, source: Source):
        self.source = source
        self.ref = _descriptor(source.image)
        self.ref_mirror = _descriptor(np.ascontiguousarray(source.image[:, ::-1]))

    def __call__(self, frame: np.ndarray, target: np.ndarray) -> dict:
        lm = motion.detect_landmarks(frame, near=target)
        row = {"result_face_found": int(lm is not None),
               "still_error": motion.landmark_error(self.source.landmarks, target),
               "target_mouth_open": float(motion.mouth_opening(target))}
        if lm is not None:
            row["landmark_error"] = motion.landmark_error(lm, target)
            row["result_mouth_open"] = float(motion.mouth_opening(lm))
        for key, ref, img in (("identity", self.ref, frame),
                              ("identity_mirror", self.ref_mirror, np.ascontiguousarray(frame[:, ::-1]))):
            d = _descriptor(img) if ref is not None else None
            row[key] = float(np.linalg.norm(d - ref)) if d is not None else float("nan")
        return row


def _fmt(row: dict) -> dict:
    return {k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()}


# ----------------------------------------------------------------------------- the verb


def provenance(cfg: AnimateConfig) -> dict:
    return {"generator": f"uncanny-lab {__version__} (uncanny animate)", "synthetic": True,
            "method": cfg.method, "source": cfg.source, "seed": cfg.seed, "driving": cfg.driving,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def _side_by_side(source: np.ndarray, driving: np.ndarray, result: np.ndarray, height: int = 256) -> np.ndarray:
    def fit(im):
        w = max(2, round(im.shape[1] * height / im.shape[0]))
        return np.asarray(Image.fromarray(im).resize((w, height), Image.BICUBIC))
    pad = np.full((height + 14, 4, 3), 255, np.uint8)
    panels = [label(fit(source), "source"), pad, label(fit(driving), "driving"), pad, label(fit(result), "result")]
    return np.concatenate(panels, 1)


def animate(cfg: AnimateConfig, show_progress: bool = True) -> dict:
    """Drive the source with the driving clip; returns the summary written to OUT/run.json."""
    cfg.validate()
    run = RunFolder(cfg.out, "animate", sources=(cfg.source, cfg.driving, cfg.run, cfg.directions, cfg.fomm))
    recorded = run.check(resume=cfg.resume, overwrite=cfg.overwrite)
    if recorded and recorded.get("config"):
        same = {k: recorded["config"].get(k) for k in ("source", "driving", "method", "seed", "max_frames", "face")}
        if same != {k: getattr(cfg, k) for k in same}:
            raise UncannyError(f"{cfg.out}: --resume with other inputs than the run's ({same})")
    source = load_source(cfg)                      # bad inputs stop here, before anything is written
    frames, clip_fps = read_driving(cfg.driving, cfg.max_frames)
    fps = cfg.fps or clip_fps or 12.0

    # 1. the driving motion: landmarks, gaps filled, smoothed, transferred onto the source
    raw, found = motion.track_landmarks(frames, show_progress)
    if not found.any():
        raise UncannyError(f"{cfg.driving}: no face found in any of its {len(frames)} frames")
    filled = motion.fill_gaps(raw, found)
    smooth = motion.smooth_track(filled, fps, min_cutoff=cfg.min_cutoff, beta=cfg.beta)
    targets = motion.transfer(source.landmarks, smooth)
    displacement = np.linalg.norm(smooth - smooth[:1], axis=-1).mean(-1) / motion.iod(smooth[0])

    if cfg.method == "fomm":              # read the checkpoint before anything is written
        from .fomm import FommDriver
        fomm_driver = FommDriver(cfg.fomm, source.image, source.landmarks, frames, smooth, resolve_device(cfg.device))

    run.open(resume=cfg.resume, overwrite=cfg.overwrite, subdirs=("frames",))
    run.write_json("run.json", {"status": "started", "config": asdict(cfg), "provenance": provenance(cfg)})
    save_png(run.file("source.png"), source.image)
    np.savez_compressed(run.file("track.npz"), raw=raw, found=found, smooth=smooth, targets=targets)

    # 2. the frames
    if cfg.method == "latent":
        from .animate_latent import LatentDriver
        render = LatentDriver(source, frames, smooth, cfg, run)
    elif cfg.method == "fomm":
        render = fomm_driver
    else:
        render = lambda t: motion.warp_face(source.image, source.landmarks, targets[t])   # noqa: E731
    meter = Meter(source)
    meta = json.dumps(provenance(cfg))
    done = {int(r["frame"]): r for r in run.read_csv("motion.csv")} if cfg.resume else {}
    rows, seconds = [], []
    bar = progress(range(len(frames)), desc="animate", unit="frame", disable=not show_progress)
    for t in bar:
        name = os.path.join("frames", f"{t:04d}.png")
        if t in done and os.path.isfile(run.file(name)):
            rows.append(done[t])
            continue
        start = time.perf_counter()
        result = render(t)
        seconds.append(time.perf_counter() - start)
        row = {"frame": t, "driving_face_found": int(found[t]), "interpolated": int(not found[t]),
               "displacement": float(displacement[t]), **meter(result, targets[t]), "file": name}
        save_png(run.file(name), motion.mark(result) if cfg.mark else result, text={"uncanny": meta})
        rows.append(_fmt(row))
        if t % 10 == 9:
            run.write_csv("motion.csv", COLUMNS, rows)
    run.write_csv("motion.csv", COLUMNS, rows)
    if cfg.method == "latent" and cfg.run:
        save_png(run.file("arc.png"), render.arc(int(np.argmax(displacement))))

    # 3. the videos, from the saved frames (a resumed run has the earlier ones only on disk)
    results = [np.asarray(Image.open(run.file(r["file"])).convert("RGB")) for r in rows]
    save_video(run.file("result.mp4"), results, fps, comment=meta)
    save_video(run.file("result.gif"), results, fps, comment=meta)
    sbs = [_side_by_side(source.image, d, r) for d, r in zip(frames, results)]
    save_video(run.file("side_by_side.mp4"), sbs, fps, comment=meta)

    def mean(key):
        v = [float(r[key]) for r in rows if r.get(key) not in (None, "", "nan")]
        return float(np.nanmean(v)) if v else float("nan")
    summary = {"status": "done", "config": asdict(cfg), "provenance": provenance(cfg), "frames": len(rows),
               "fps": fps, "driving_faces_found": int(found.sum()),
               "result_faces_found": int(sum(int(r["result_face_found"]) for r in rows)),
               "landmark_error": mean("landmark_error"), "still_error": mean("still_error"),
               "identity": mean("identity"), "identity_mirror": mean("identity_mirror"),
               "seconds_per_frame": float(np.mean(seconds)) if seconds else None,
               "files": {k: run.file(f) for k, f in (("frames", "frames"), ("mp4", "result.mp4"), ("gif", "result.gif"),
                                                    ("side_by_side", "side_by_side.mp4"), ("csv", "motion.csv"))}}
    run.write_json("run.json", summary)
    run.release()
    return summary
