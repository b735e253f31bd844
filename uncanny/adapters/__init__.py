"""One adapter per architecture: the only code that knows how a StyleGAN2, a StyleGAN 1 or a
DCGAN maps latents to images. Verbs are written once against `GAN` (as GANSpace wraps each
model in one class):

    gan = load_gan("faces64", need_d=True)      # a StyleGAN2 adapter around G (g_ema) and D
    img = gan.generate(z, truncation=0.7)       # (B, 3, H, W), fixed noise: a seed is one image
    w = gan.mapping(z)                          # (B, w_dim); a DCGAN's "W" is z itself
    img = gan.synthesize(w_plus, noise)         # from W (B, D) or W+ (B, num_ws, D)
    feats = gan.d_features(img)                 # D's intermediate activations
    mats = gan.style_weights()                  # style-modulation matrices (SeFa)

Layering: nets (torch) < checkpoint, formats < adapters < verbs < cli.
"""

from __future__ import annotations

import torch

from .. import registry
from ..checkpoint import Checkpoint, load_into
from ..errors import UncannyError
from ..formats import read_any
from .base import GAN
from .dcgan import DCGAN
from .stylegan1 import StyleGAN1
from .stylegan2 import StyleGAN2

ADAPTERS: dict[str, type[GAN]] = {a.arch: a for a in (StyleGAN2, StyleGAN1, DCGAN)}
ARCHS = tuple(ADAPTERS)


def adapter_for(arch: str) -> type[GAN]:
    if arch not in ADAPTERS:
        raise UncannyError(f"unknown architecture {arch!r} (known: {', '.join(ARCHS)})")
    return ADAPTERS[arch]


def build(arch: str, config: dict):
    """Fresh (G, D) networks for an architecture name and its config dict."""
    return adapter_for(arch).build(config)


def from_checkpoint(ck: Checkpoint, which: str = "g_ema", need_d: bool = False,
                    device: str | torch.device = "cpu") -> GAN:
    """The adapter around a read checkpoint's networks (`which`: g_ema, falling back to g, or g)."""
    if which not in ("g", "g_ema"):
        raise UncannyError(f"--generator {which}: must be g or g_ema")
    if which not in ck.state:
        which = "g" if which == "g_ema" else "g_ema"
    if need_d and "d" not in ck.state:
        raise UncannyError(f"{ck.path}: checkpoint has no discriminator, and foiling needs one. Use a "
                           f"checkpoint saved with its D (uncanny train saves G, G_ema and D; "
                           f"`uncanny convert` keeps D where the source has it)")
    if ck.arch not in ADAPTERS:
        raise UncannyError(f"{ck.path}: unknown architecture {ck.arch!r} (known: {', '.join(ARCHS)})")
    cls = adapter_for(ck.arch)
    try:
        G, D = cls.build(ck.config)
    except (TypeError, ValueError, KeyError, RuntimeError, ArithmeticError, MemoryError) as e:
        raise UncannyError(f"{ck.path}: bad architecture config ({str(e).splitlines()[0][:120]})") from None
    for net, sd in ck.state.items():
        for k, t in sd.items():
            if t.is_floating_point() and not torch.isfinite(t).all():
                raise UncannyError(f"{ck.path}: tensor {net}.{k} holds NaN or infinite values")
    load_into(G, ck.state[which], ck.path, which)
    if "d" in ck.state:
        load_into(D, ck.state["d"], ck.path, "d")
    else:
        D = None
    G.eval().to(device)
    if D is not None:
        D.eval().to(device)
    gan = cls(G, D, None, ck.config, ck.header, ck.path, which)
    gan.w_avg = (ck.w_avg.to(device) if ck.w_avg is not None else gan.estimate_w_avg())
    return gan


def load_gan(path: str | None, which: str = "g_ema", need_d: bool = False,
             device: str | torch.device = "cpu", stage: int | None = None) -> GAN:
    """Load a generator (and the discriminator, if the file has one) behind its adapter.

    `path`: a checkpoint (.safetensors, rosinality .pt, NVIDIA .pkl), an embedded model name
    (`uncanny models`), a foil snapshot RUN/ITER, or None for the default model."""
    return from_checkpoint(read_any(registry.resolve(path), stage), which, need_d, device)
