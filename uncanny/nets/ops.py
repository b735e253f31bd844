"""Low-level ops shared by the networks, pure PyTorch (CPU and GPU alike).

Every op here has one plain definition. Where a faster formulation exists it sits beside
the reference and a test checks that the two agree.

    upfirdn2d(x, k, up, down, pad)  upsample by zero insertion, pad, FIR filter, downsample
    leaky_relu_bias(x, bias)        StyleGAN's "fused" bias + leaky ReLU * sqrt(2)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def make_kernel(k) -> torch.Tensor:
    """A 1-D list such as [1, 3, 3, 1] -> a normalised separable 2-D kernel."""
    k = torch.tensor(k, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d_reference(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1,
                        pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Reference upfirdn2d: literal zero insertion, padding, true convolution, subsampling.

    x: (N, C, H, W); kernel: (kh, kw); pad: (before, after), applied on both axes.
    Output: (N, C, (H*up + p0 + p1 - kh) // down + 1, ...).
    """
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    p0, p1 = pad
    out = x.reshape(n * c, 1, h, 1, w, 1)
    out = F.pad(out, [0, up - 1, 0, 0, 0, up - 1])  # zeros after each pixel
    out = out.reshape(n * c, 1, h * up, w * up)
    out = F.pad(out, [p0, p1, p0, p1])  # F.pad crops on negative values
    weight = torch.flip(kernel, [0, 1]).view(1, 1, kh, kw).to(out)
    out = F.conv2d(out, weight)
    out = out[:, :, ::down, ::down]
    return out.reshape(n, c, out.shape[2], out.shape[3])


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1,
              pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Fast upfirdn2d: one depthwise (transposed) convolution, no explicit zero insertion.

    Same contract as `upfirdn2d_reference`; tests check the two agree.
    """
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    p0, p1 = pad
    weight = torch.flip(kernel, [0, 1]).to(x).expand(c, 1, kh, kw)
    if up == 1:
        if p0 == p1 >= 0:  # the conv pads by itself: no padded copy, no pad backward
            return F.conv2d(x, weight, stride=down, padding=p0, groups=c)
        x = F.pad(x, [p0, p1, p0, p1]) if (p0 or p1) else x
        return F.conv2d(x, weight, stride=down, groups=c)
    # Zero insertion + conv == transposed conv with stride `up` (kernel flipped back).
    # conv_transpose2d of an (h) input with stride s and kernel k gives (h-1)*s + k, which
    # corresponds to zero-inserted length h*s - (s-1) padded by k-1 each side. Fix up the
    # difference with pad/crop so the result matches the reference exactly.
    wt = kernel.to(x).expand(c, 1, kh, kw)  # transposed conv correlates with the flip of flip
    out = F.conv_transpose2d(x, wt, stride=up, groups=c)
    # The transposed conv implicitly pads kh-1 zeros around the (h-1)*up+1 long zero-inserted
    # signal; the reference pads p0 before and (up-1 trailing zeros) + p1 after it.
    lo = (kh - 1) - p0
    hi = (kh - 1) - (p1 + up - 1)
    out = F.pad(out, [-lo, -hi, -lo, -hi])
    if down > 1:
        out = out[:, :, ::down, ::down]
    return out


def leaky_relu_bias(x: torch.Tensor, bias: torch.Tensor | None, negative_slope: float = 0.2,
                    scale: float = math.sqrt(2)) -> torch.Tensor:
    """StyleGAN's fused_leaky_relu: (leaky_relu(x + bias)) * sqrt(2), bias over dim 1."""
    if bias is not None:
        x = x + bias.view(1, -1, *([1] * (x.ndim - 2)))
    return F.leaky_relu(x, negative_slope) * scale
