"""Sample: a grid of images from any checkpoint, embedded model or foil snapshot.

    uncanny sample --model faces64 --n 64 --out samples.png
    uncanny sample --model runs/foil1/500 --seeds 0-15 --truncation 0.7 --out s.png   # foil snapshot
"""

from __future__ import annotations

import math
import os

import torch

from .checkpoint import load_gan
from .errors import UncannyError
from .media import grid, save_png, to_uint8
from .util import resolve_device, seed_z


def parse_seeds(text: str) -> list[int]:
    """'0-3,7,10-11' -> [0, 1, 2, 3, 7, 10, 11]."""
    seeds = []
    try:
        for part in filter(None, text.split(",")):
            if "-" in part.strip()[1:]:
                a, b = part.rsplit("-", 1)
                seeds.extend(range(int(a), int(b) + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise UncannyError(f"--seeds {text}: expected numbers and ranges like 0-15,20") from None
    if not seeds:
        raise UncannyError(f"--seeds {text}: no seeds")
    return seeds


def sample(model: str | None, out: str, seeds: list[int], truncation: float = 1.0,
           which: str = "g_ema", ncol: int | None = None, device: str | None = None,
           stage: int | None = None) -> str:
    if not 0 < truncation <= 1:
        raise UncannyError(f"--truncation {truncation}: must be in (0, 1]")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise UncannyError(f"{out}: output folder {folder} does not exist or is not writable")
    dev = resolve_device(device)
    gan = load_gan(model, which=which, device=dev, stage=stage)
    z = seed_z(seeds, gan.z_dim, dev)
    with torch.no_grad():
        imgs = torch.cat([gan.generate(b, truncation) for b in z.split(32)])
    save_png(out, grid(to_uint8(imgs), ncol=ncol or int(math.ceil(math.sqrt(len(seeds))))))
    return out
