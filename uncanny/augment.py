"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for training on few images.

The same random transforms are applied to real and generated images before D sees them,
and gradients flow through them to G. Each op takes and returns (B, C, H, W) in [-1, 1].

    x = diff_augment(x, "color,translation,cutout")
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _rand(x, *shape):
    return torch.rand(x.shape[0], *shape, device=x.device, dtype=x.dtype)


def color(x):
    x = x + (_rand(x, 1, 1, 1) - 0.5)                                   # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, 1, 1, 1) * 2) + mean                     # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_rand(x, 1, 1, 1) + 0.5) + mean                # contrast


def translation(x, ratio=0.125):
    """Shift each image by up to ratio*size pixels, filling with zeros."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)
    tx = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    gy = torch.clamp(gy[None] + ty + 1, 0, h + 1)
    gx = torch.clamp(gx[None] + tx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])                                       # zero border to sample from
    idx = (gy * (w + 2) + gx).view(b, 1, h * w).expand(-1, x.shape[1], -1)
    return padded.flatten(2).gather(2, idx).view_as(x)


def cutout(x, ratio=0.5):
    """Zero a random square of side ratio*size in each image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    gy = torch.arange(h, device=x.device).view(1, h, 1)
    gx = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((gy - oy + ch // 2).clamp(min=0) < ch) & ((gy - oy + ch // 2) >= 0) & \
             ((gx - ox + cw // 2) >= 0) & ((gx - ox + cw // 2) < cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


OPS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(x: torch.Tensor, policy: str = "color,translation,cutout") -> torch.Tensor:
    for name in filter(None, (p.strip() for p in policy.split(","))):
        if name not in OPS:
            raise ValueError(f"unknown augmentation {name!r} (known: {', '.join(OPS)})")
        x = OPS[name](x)
    return x
