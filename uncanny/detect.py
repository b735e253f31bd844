"""Detect: is this face a photograph or generated? A fake score per image, and where the
detector looks.

    uncanny detect photo.jpg sample.png                        # the embedded detector (detector64)
    uncanny detect *.png --detector d:faces64 --out runs/det   # faces64's own discriminator, calibrated
    from uncanny.detect import DetectConfig, detect

Each image's largest face is found and aligned exactly as the training data was (images without
a face are scored whole and flagged). Writes OUT/scores.csv (path, fake_score, verdict,
face_found) and OUT/maps/<name>.png: the aligned face, its Grad-CAM heat map, and the two
blended, captioned with the score.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .detectors import load_detector, prepare
from .errors import UncannyError
from .faces import load_image
from .media import label, save_png, upscale
from .options import option, validate
from .runs import RunFolder

COLUMNS = ["path", "fake_score", "verdict", "face_found", "detector"]


@dataclass
class DetectConfig:
    images: list = option(None, "image files (any size)", positional=True, nargs="+")
    detector: str | None = option(None, "detector file or folder, an embedded detector, or d:MODEL for a GAN's "
                                  "own discriminator (default: the embedded detector64)")
    out: str = option("runs/detect", "run folder for scores.csv and maps/")
    overwrite: bool = option(False, "replace an earlier detect run in --out")


def heat_overlay(face: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """The face | the heat map | both blended, enlarged 3x."""
    from .plots import plt
    heat = (plt.get_cmap("inferno")(cam)[..., :3] * 255).astype(np.uint8)
    blend = (0.55 * face + 0.45 * heat).astype(np.uint8)
    pad = np.full((face.shape[0], 2, 3), 255, np.uint8)
    return upscale(np.concatenate([face, pad, heat, pad, blend], 1), 3)


def detect(cfg: DetectConfig, show_progress: bool = False) -> list[dict]:
    """Score every image; returns the rows of scores.csv."""
    validate(cfg)
    if not cfg.images:
        raise UncannyError("no images given")
    det = load_detector(cfg.detector)
    run = RunFolder(cfg.out, "detect", sources=(*cfg.images, cfg.detector))
    run.check(overwrite=cfg.overwrite)
    loaded = [(p, load_image(p)) for p in cfg.images]   # a bad file stops here, before anything is written
    run.open(overwrite=cfg.overwrite, subdirs=("maps",))
    rows, seen = [], set()
    for path, img in loaded:
        prep = prepare(img)
        x = torch.from_numpy(prep.aligned.copy()).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            score = float(det.score_tensor(x)[0])
        cam = det.gradcam(x)[0].numpy()
        verdict = "fake" if score > 0.5 else "real"
        name = os.path.splitext(os.path.basename(path))[0]
        while name in seen:
            name += "_"
        seen.add(name)
        caption = f"{verdict} {score:.2f}" + ("" if prep.face_found else " (no face: scored whole)")
        save_png(run.file("maps", name + ".png"), label(heat_overlay(prep.aligned, cam), caption))
        rows.append({"path": path, "fake_score": f"{score:.4f}", "verdict": verdict,
                     "face_found": int(prep.face_found), "detector": det.name})
    run.write_csv("scores.csv", COLUMNS, rows)
    run.write_json("run.json", {"config": asdict(cfg), "detector": det.name,
                                "threshold": det.threshold, "spread": det.spread})
    run.release()
    return rows
