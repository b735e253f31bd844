"""Render a projected latent through foiled generators: one snapshot, or every snapshot of a
foil run as a strip and a video (the face, as the machine's idea of "real" falls apart).

    uncanny render runs/me/00-photo/latent.npz --run runs/foil1 --out render.png
    uncanny render runs/me/00-photo/latent.npz --snapshot runs/foil1/500 --out r500.png
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from .adapters import load_gan
from .errors import UncannyError
from .latents import check_fits, load_latent, synthesize
from .options import option, positive, validate
from .media import label, save_png, save_video, to_uint8, upscale
from .runs import SNAPSHOT_DIR, list_snapshots
from .util import ensure_dir, resolve_device


@dataclass
class RenderConfig:
    latent: str = option(help="latent.npz written by `uncanny project`", positional=True)
    snapshot: str | None = option(None, "one foil snapshot, RUN/ITER")
    run: str | None = option(None, "every snapshot of a foil run (strip + video)")
    out: str = option("render.png", "PNG strip to write (a video beside it with --run)")
    fps: int = option(12, "frames per second of the video", cli=False, check=positive)
    device: str | None = option(None, "cpu, cuda, cuda:1 (default: cuda if available)")


def render(cfg: RenderConfig) -> dict:
    """Render a projected latent through one foiled snapshot (RUN/ITER) or every snapshot of a run."""
    validate(cfg)
    out, snapshot, run, fps = cfg.out, cfg.snapshot, cfg.run, cfg.fps
    if (snapshot is None) == (run is None):
        raise UncannyError("give exactly one of --snapshot RUN/ITER or --run RUN")
    lat, meta = load_latent(cfg.latent)
    dev = resolve_device(cfg.device)
    if run is not None:
        paths = list(list_snapshots(os.path.join(run, SNAPSHOT_DIR), "iter").items())
        if not paths:
            raise UncannyError(f"{run}: not a foil run folder (no snapshots/iter-*.safetensors)")
    else:
        paths = [(None, snapshot)]
    lat = lat.to(dev)
    images = []
    for it, p in paths:
        gan = load_gan(p, which="g", device=dev)
        if gan.arch != meta.get("arch"):
            raise UncannyError(f"{p}: a {gan.arch} snapshot cannot render a {meta.get('arch')} latent")
        check_fits(gan, lat)
        with torch.no_grad():
            img = to_uint8(synthesize(gan, lat))[0]
        images.append(label(upscale(img, max(1, 128 // img.shape[0])), f"iter {it}" if it is not None else "snapshot"))
    ensure_dir(os.path.dirname(os.path.abspath(out)) or ".", "output folder")
    strip = np.concatenate(images, axis=1)
    save_png(out, strip)
    result = {"strip": out}
    if len(images) > 1:
        frames = []
        for a, b in zip(images, images[1:]):  # hold each snapshot, then crossfade to the next
            frames += [a] * fps + [(a * (1 - t) + b * t).astype(np.uint8) for t in np.linspace(0, 1, fps // 2)]
        frames += [images[-1]] * fps
        video = os.path.splitext(out)[0] + ".mp4"
        save_video(video, frames, fps)
        result["video"] = video
    return result
