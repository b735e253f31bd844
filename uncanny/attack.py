"""Attack: imperceptible perturbations that flip a detector's verdict (fakes scored real,
photos scored fake), made on the user's own images at their own size.

    uncanny attack sample.png photo.jpg --target detector --eps 4/255 --out runs/attack
    uncanny attack *.png --target d:faces64 --method fgsm --out runs/fool-d   # scored also by detector64
    uncanny attack *.png --target detector --norm l2 --eps 1.0 --out runs/l2

Images enter the attack in [0, 1] (the convention of torchattacks). The face is found on the
original image; the detector's alignment (the oriented square, resampled to 64 px) is inside the
differentiable path, so the perturbation lives on the full-size image. PGD (Madry et al. 2018):
random start in the eps-ball, `steps` signed (L-inf) or normalised (L2) gradient steps, each
projected back onto the ball and [0, 1]; FGSM: one signed step of size eps. The result is saved
as 8-bit PNG and scored again from the file, through the detector's exact (non-differentiable)
alignment: what attack.csv reports is what `uncanny detect` would say.

Writes OUT/<name>.png (same names, lossless), OUT/perturbation/<name>.png (the perturbation,
amplified to the full grey range), OUT/attack.csv (scores before and after, after JPEG 90, on a
second detector (transfer), L-inf, L2, PSNR).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np
import torch

from .detector_train import jpeg
from .detectors import differentiable_view, load_detector, prepare, to_unit
from .errors import UncannyError
from .faces import load_image
from .media import save_png
from .registry import DEFAULT as DEFAULT_MODEL
from .options import non_negative, option, positive, validate
from .runs import RunFolder

COLUMNS = ["path", "out", "target", "face_found", "score_before", "score_after", "flipped", "score_after_jpeg90",
           "flipped_after_jpeg90", "transfer_detector", "transfer_before", "transfer_after", "linf_255", "l2",
           "psnr_db"]


def parse_eps(text: str) -> float:
    """'4/255' or '0.0157' -> a float in image units ([0, 1] pixels)."""
    try:
        v = float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise UncannyError(f"--eps {text}: expected a number or a fraction like 4/255") from None
    if not (math.isfinite(v) and v > 0):
        raise UncannyError(f"--eps {text}: must be positive")
    return v


@dataclass
class AttackConfig:
    images: list = option(None, "image files to perturb (any size)", positional=True, nargs="+")
    target: str = option("detector", "detector | d:MODEL | a detector file: what the attack fools")
    eps: str = option("4/255", "perturbation budget: L-inf in [0, 1] pixel units (4/255), or the L2 norm")
    method: str = option("pgd", "pgd (iterative) or fgsm (one step)", choices=("pgd", "fgsm"))
    norm: str = option("linf", "the ball the perturbation stays in", choices=("linf", "l2"))
    steps: int = option(20, "PGD steps", check=positive)
    step_size: float | None = option(None, "PGD step (default 2.5 eps / steps)")
    transfer: str | None = option(None, "a second detector the results are also scored with (default: the other "
                                  "kind: the default model's D, d:" + DEFAULT_MODEL + ", or detector)")
    seed: int = option(0, "seed of PGD's random start", check=non_negative)
    out: str = option("runs/attack", "run folder")
    overwrite: bool = option(False, "replace an earlier attack run in --out")


def _spec(target: str) -> str | None:
    return None if target == "detector" else target


def perturb(det, x: torch.Tensor, prep, goal_fake: bool, eps: float, cfg: AttackConfig) -> torch.Tensor:
    """The adversarial image (1, 3, H, W) in [0, 1]: push the score towards fake (goal_fake) or real."""
    g = torch.Generator().manual_seed(cfg.seed)

    def loss_of(d):
        s = det.score_tensor(differentiable_view((x + d).clamp(0, 1), prep))
        return (1 - s).sum() if goal_fake else s.sum()

    def project(d):
        if cfg.norm == "linf":
            d = d.clamp(-eps, eps)
        else:
            n = d.flatten().norm()
            d = d * min(1.0, eps / max(float(n), 1e-12))
        return (x + d).clamp(0, 1) - x

    if cfg.method == "fgsm":
        d = torch.zeros_like(x, requires_grad=True)
        (grad,) = torch.autograd.grad(loss_of(d), d)
        step = -eps * grad.sign() if cfg.norm == "linf" else -eps * grad / grad.flatten().norm().clamp_min(1e-12)
        return (x + project(step)).detach()
    alpha = cfg.step_size or 2.5 * eps / cfg.steps
    if cfg.norm == "linf":
        d = (torch.rand(x.shape, generator=g) * 2 - 1) * eps
    else:
        r = torch.randn(x.shape, generator=g)
        d = r / r.flatten().norm() * eps * float(torch.rand((), generator=g))
    d = project(d)
    for _ in range(cfg.steps):
        d.requires_grad_(True)
        (grad,) = torch.autograd.grad(loss_of(d), d)
        with torch.no_grad():
            step = grad.sign() if cfg.norm == "linf" else grad / grad.flatten().norm().clamp_min(1e-12)
            d = project(d - alpha * step)
    return (x + d).detach()


def attack(cfg: AttackConfig, show_progress: bool = False) -> list[dict]:
    """Perturb every image; returns the rows of attack.csv."""
    validate(cfg)
    if not cfg.images:
        raise UncannyError("no images given")
    eps = parse_eps(cfg.eps)
    if cfg.norm == "linf" and eps >= 1:
        raise UncannyError(f"--eps {cfg.eps}: an L-inf budget is a fraction of the pixel range, below 1")
    det = load_detector(_spec(cfg.target))
    other = cfg.transfer or ("detector" if cfg.target.startswith("d:") else "d:" + DEFAULT_MODEL)
    det2 = load_detector(_spec(other))
    run = RunFolder(cfg.out, "attack", sources=(*cfg.images,))
    run.check(overwrite=cfg.overwrite)
    loaded = [(p, load_image(p)) for p in cfg.images]
    run.open(overwrite=cfg.overwrite, subdirs=("perturbation",))
    rows, seen = [], set()
    from .util import progress
    for path, img in progress(loaded, desc="attack", disable=not show_progress):
        prep = prepare(img)
        before = float(det.scores(prep.aligned[None])[0])
        t_before = float(det2.scores(prep.aligned[None])[0])
        x = to_unit(img)
        adv = perturb(det, x, prep, goal_fake=before <= 0.5, eps=eps, cfg=cfg)
        adv8 = np.rint(adv[0].permute(1, 2, 0).numpy() * 255).clip(0, 255).astype(np.uint8)
        after = float(det.scores(prepare(adv8).aligned[None])[0])
        after_jpeg = float(det.scores(prepare(jpeg(adv8, 90)).aligned[None])[0])
        t_after = float(det2.scores(prepare(adv8).aligned[None])[0])
        diff = adv8.astype(np.float64) - img
        mse = float((diff ** 2).mean())
        name = os.path.splitext(os.path.basename(path))[0]
        while name in seen:
            name += "_"
        seen.add(name)
        save_png(run.file(name + ".png"), adv8)
        amp = np.abs(diff).max() or 1.0
        save_png(run.file("perturbation", name + ".png"), np.uint8(np.clip(127.5 + diff * (127.5 / amp), 0, 255)))
        flipped = (after > 0.5) != (before > 0.5)
        rows.append({"path": path, "out": run.file(name + ".png"), "target": det.name or cfg.target,
                     "face_found": int(prep.face_found), "score_before": f"{before:.4f}", "score_after": f"{after:.4f}",
                     "flipped": int(flipped), "score_after_jpeg90": f"{after_jpeg:.4f}",
                     "flipped_after_jpeg90": int((after_jpeg > 0.5) != (before > 0.5)), "transfer_detector": det2.name,
                     "transfer_before": f"{t_before:.4f}", "transfer_after": f"{t_after:.4f}",
                     "linf_255": f"{np.abs(diff).max():.0f}", "l2": f"{math.sqrt(((diff / 255) ** 2).sum()):.4f}",
                     "psnr_db": f"{10 * math.log10(255 ** 2 / mse):.2f}" if mse > 0 else "inf"})
    run.write_csv("attack.csv", COLUMNS, rows)
    run.write_json("run.json", {"config": asdict(cfg), "eps": eps, "target": det.name, "transfer": det2.name})
    run.release()
    return rows
