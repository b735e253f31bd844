"""Sample: a grid of images from any checkpoint, embedded model or foil snapshot.

    uncanny sample --model faces64 --n 64 --out samples.png
    uncanny sample --model runs/foil1/500 --seeds 0-15 --truncation 0.7 --out s.png   # foil snapshot

    from uncanny.sample import SampleConfig, sample
    sample(SampleConfig(model="faces64", n=64, out="samples.png"))
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch

from .adapters import load_gan
from .errors import UncannyError
from .media import grid, save_png, to_uint8
from .options import in_unit_interval, option, positive_or_none, seed_text, validate
from .options import seeds as seeds_arg
from .util import resolve_device, seed_z


def parse_seeds(text: str) -> list[int]:
    """'0-3,7,10-11' -> [0, 1, 2, 3, 7, 10, 11] (UncannyError on anything else)."""
    import argparse
    try:
        return list(seeds_arg(text))
    except argparse.ArgumentTypeError as e:
        raise UncannyError(f"--seeds {text}: {e}") from None


@dataclass
class SampleConfig:
    model: str | None = option(None, "checkpoint, embedded name, or foil snapshot RUN/ITER (default: the default model)")
    out: str = option("samples.png", "PNG to write")
    n: int | None = option(None, "number of samples, seeds 0..n-1 (overrides --seeds)",
                           check=lambda v: None if v is None or (isinstance(v, int) and 0 < v <= 10000)
                           else "must be 1 to 10000 (one grid)")
    seeds: tuple = option(tuple(range(16)), "sample seeds", type=seeds_arg, show=seed_text)
    truncation: float = option(1.0, "truncation psi", check=in_unit_interval)
    generator: str = option("g_ema", "generator to sample", choices=("g_ema", "g"))
    ncol: int | None = option(None, "grid columns (default: square)", cli=False)
    stage: int | None = option(None, "resolution of a progressive StyleGAN 1 checkpoint", check=positive_or_none)
    device: str | None = option(None, "cpu, cuda, cuda:1 (default: cuda if available)")


def sample(cfg: SampleConfig) -> str:
    """Write a grid of samples; returns its path."""
    validate(cfg)
    seed_list = list(range(cfg.n)) if cfg.n else list(cfg.seeds)
    folder = os.path.dirname(os.path.abspath(cfg.out))
    if os.path.isdir(cfg.out):
        raise UncannyError(f"{cfg.out}: is a folder; --out names the PNG to write")
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise UncannyError(f"{cfg.out}: output folder {folder} does not exist or is not writable")
    dev = resolve_device(cfg.device)
    gan = load_gan(cfg.model, which=cfg.generator, device=dev, stage=cfg.stage)
    z = seed_z(seed_list, gan.z_dim, dev)
    with torch.no_grad():
        imgs = torch.cat([gan.generate(b, cfg.truncation) for b in z.split(32)])
    save_png(cfg.out, grid(to_uint8(imgs), ncol=cfg.ncol or int(math.ceil(math.sqrt(len(seed_list))))))
    return cfg.out
