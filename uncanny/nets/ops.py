"""Low-level ops shared by the networks, pure PyTorch (CPU and GPU alike).

Every op here has one plain definition. Where a faster formulation exists it sits beside
the reference and a test checks that the two agree.

    upfirdn2d(x, k, up, down, pad)  upsample by zero insertion, pad, FIR filter, downsample
    leaky_relu_bias(x, bias)        StyleGAN's "fused" bias + leaky ReLU * sqrt(2)
    conv3x3(x, w, bias)             3x3 conv, padding 1: Winograd F(4x4, 3x3) on the CPU,
                                    F.conv2d (the reference) elsewhere
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


# ---------------------------------------------------------------------------------------
# 3x3 convolution, stride 1, padding 1: Winograd F(4x4, 3x3) on the CPU
#
# A 3x3 conv computes each 4x4 block of output from a 6x6 block of input. Winograd's
# minimal filtering algorithm (Lavin & Gray, "Fast Algorithms for Convolutional Neural
# Networks", 2016) does it with 36 multiplications per block and channel pair instead of
# 144:  Y = A^T [ (G w G^T) * (B^T d B) ] A,  where d is the 6x6 input tile, w the 3x3
# kernel and * elementwise. The transforms B^T, G, A^T are small constant matrices; the 36
# elementwise products summed over input channels are one batched GEMM. The transforms
# here are additions over strided views of a channels-last copy (channel vectors stay
# contiguous); their adjoints give the backward pass, and the GEMM's backward is autograd's.
# On 2 CPU cores this is about 2-3.5x faster than F.conv2d (forward + backward) at 32-64 px
# with 256-512 channels; numerically its float32 error is a few times the direct conv's
# (relative 1e-5 against 2e-6), so `conv3x3(..., winograd=False)` keeps the direct path.
# ---------------------------------------------------------------------------------------

# G: 6x3, the kernel transform (interpolation points 0, 1, -1, 2, -2, infinity).
_WINO_G = ((1 / 4, 0, 0), (-1 / 6, -1 / 6, -1 / 6), (-1 / 6, 1 / 6, -1 / 6),
           (1 / 24, 1 / 12, 1 / 6), (1 / 24, -1 / 12, 1 / 6), (0, 0, 1))


def _bt(d, out):
    """out[i] = sum_k B^T[i, k] d[k] for the six views d (the input transform along one axis).

    B^T = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
           [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
    """
    d0, d1, d2, d3, d4, d5 = d
    torch.add(d4, d0, alpha=4, out=out[0]).add_(d2, alpha=-5)
    p, q = d1 + d2, d3 + d4
    torch.add(q, p, alpha=-4, out=out[1])
    torch.sub(d1, d2, out=p)
    torch.sub(d4, d3, out=q)
    torch.add(q, p, alpha=4, out=out[2])
    torch.sub(d4, d2, out=p)
    torch.sub(d1, d3, out=q)
    torch.add(p, q, alpha=-2, out=out[3])
    torch.add(p, q, alpha=2, out=out[4])
    torch.add(d5, d1, alpha=4, out=out[5]).add_(d3, alpha=-5)


def _b(v):
    """The adjoint of `_bt`: the six taps sum_i B^T[i, k] v[i], k = 0..5."""
    v0, v1, v2, v3, v4, v5 = v
    t1 = torch.sub(v2, v1).add_(v5).mul_(4).add_(v4 - v3, alpha=2)
    t2 = torch.add(v1, v2).mul_(-4).add_(v0, alpha=-5).sub_(v3).sub_(v4)
    t3 = torch.sub(v1, v2).add_(v3 - v4, alpha=2).add_(v5, alpha=-5)
    t4 = torch.add(v0, v1).add_(v2).add_(v3).add_(v4)
    return [v0 * 4, t1, t2, t3, t4, v5]


def _at(m, out):
    """out[a] = sum_i A^T[a, i] m[i] (the output transform along one axis, 6 -> 4).

    A^T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
    """
    m0, m1, m2, m3, m4, m5 = m
    a, b, c, e = m1 + m2, m1 - m2, m3 + m4, m3 - m4
    torch.add(m0, a, out=out[0]).add_(c)
    torch.add(b, e, alpha=2, out=out[1])
    torch.add(a, c, alpha=4, out=out[2])
    torch.add(b, e, alpha=8, out=out[3]).add_(m5)


def _a(y, out):
    """The adjoint of `_at`: out[i] = sum_a A^T[a, i] y[a] (4 -> 6)."""
    y0, y1, y2, y3 = y
    p, q = y0 + y2, y1 + y3
    torch.add(p, q, out=out[1])
    torch.sub(p, q, out=out[2])
    torch.add(y0, y2, alpha=4, out=p)
    torch.add(y1, y3, alpha=4, out=q).mul_(2)
    torch.add(p, q, out=out[3])
    torch.sub(p, q, out=out[4])
    out[0].copy_(y0)
    out[5].copy_(y3)


def _input_transform(x, shape):
    """x (N, C, H, W) = shape, H and W multiples of 4 -> V (36, N * H/4 * W/4, C): B^T d B per tile."""
    n, c, h, w = shape
    th, tw = h // 4, w // 4
    xp = x.new_empty(n, h + 2, w + 2, c)                         # zero-padded, channels last
    for border in (xp[:, 0], xp[:, -1], xp[:, :, 0], xp[:, :, -1]):
        border.zero_()
    xp[:, 1:-1, 1:-1] = x.permute(0, 2, 3, 1)
    rows = x.new_empty(6, n, th, w + 2, c)                       # B^T along H
    _bt([xp[:, k:k + 4 * th:4] for k in range(6)], rows)
    v = x.new_empty(6, 6, n, th, tw, c)                          # then along W
    for i in range(6):
        _bt([rows[i][:, :, k:k + 4 * tw:4] for k in range(6)], v[i])
    return v.view(36, n * th * tw, c)


def _input_adjoint(dv, shape):
    """The transpose of `_input_transform`: V-shaped (36, tiles, C) -> (N, C, H, W)."""
    n, c, h, w = shape
    th, tw = h // 4, w // 4
    dv = dv.view(6, 6, n, th, tw, c)
    drows = dv.new_zeros(6, n, th, w + 2, c)
    for i in range(6):                                           # tiles overlap by 2: accumulate
        for k, tap in enumerate(_b(dv[i])):
            drows[i][:, :, k:k + 4 * tw:4] += tap
    dxp = dv.new_zeros(n, h + 2, w + 2, c)
    for k, tap in enumerate(_b(drows)):
        dxp[:, k:k + 4 * th:4] += tap
    return dxp[:, 1:-1, 1:-1].permute(0, 3, 1, 2)


def _output_transform(m, shape):
    """M (36, N * H/4 * W/4, C') -> y (N, C', H, W), channels-last strides: A^T m A per tile."""
    n, c, h, w = shape
    th, tw = h // 4, w // 4
    m = m.view(6, 6, n, th, tw, c)
    rows = m.new_empty(4, 6, n, th, tw, c)
    for j in range(6):
        _at(m[:, j], rows[:, j])
    y = m.new_empty(n, h, w, c)
    for a in range(4):
        _at(rows[a], [y[:, a::4, b::4] for b in range(4)])
    return y.permute(0, 3, 1, 2)


def _output_adjoint(dy, shape):
    """The transpose of `_output_transform`: (N, C', H, W) -> (36, tiles, C')."""
    n, c, h, w = shape
    th, tw = h // 4, w // 4
    dy = dy.permute(0, 2, 3, 1).contiguous()
    rows = dy.new_empty(6, n, th, w, c)
    _a([dy[:, a::4] for a in range(4)], rows)
    dm = dy.new_empty(6, 6, n, th, tw, c)
    for i in range(6):
        _a([rows[i][:, :, b::4] for b in range(4)], dm[i])
    return dm.view(36, n * th * tw, c)


def _linear_pair(apply, transpose):
    """A linear map and its transpose as two autograd Functions, each one's backward the other
    one's forward, so they can be differentiated any number of times (R1's gradient penalty
    differentiates through D's gradient). Both are called as (tensor, image shape)."""
    pair = []

    def function(fn, partner):
        class Linear(torch.autograd.Function):
            @staticmethod
            def forward(ctx, t, shape):
                ctx.shape = shape
                return fn(t, shape)

            @staticmethod
            def backward(ctx, grad):
                return pair[partner].apply(grad, ctx.shape), None
        Linear.__name__ = Linear.__qualname__ = fn.__name__.lstrip("_")
        return Linear

    pair += [function(apply, 1), function(transpose, 0)]
    return pair


_InputT = _linear_pair(_input_transform, _input_adjoint)[0]      # the adjoints are their backward
_OutputT = _linear_pair(_output_transform, _output_adjoint)[0]


def conv3x3_winograd(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """F.conv2d(x, weight, padding=1) for a 3x3 weight (C', C, 3, 3), by Winograd F(4x4, 3x3).

    x: (N, C, H, W) with H, W multiples of 4 -> (N, C', H, W), channels-last in memory.
    """
    cout, cin = weight.shape[:2]
    if weight.shape[2:] != (3, 3) or x.shape[1] != cin or x.shape[2] % 4 or x.shape[3] % 4:
        raise ValueError(f"conv3x3_winograd needs a (C', C, 3, 3) weight and an (N, C, H, W) input with "
                         f"H, W multiples of 4; got weight {tuple(weight.shape)}, input {tuple(x.shape)}")
    g = torch.tensor(_WINO_G, dtype=weight.dtype, device=weight.device)
    gg = torch.kron(g, g)                                       # (36, 9): G w G^T as one matrix
    u = (gg @ weight.reshape(cout * cin, 9).t()).view(36, cout, cin)
    m = torch.bmm(_InputT.apply(x, x.shape), u.transpose(1, 2))  # (36, tiles, C')
    return _OutputT.apply(m, (x.shape[0], cout, x.shape[2], x.shape[3]))


def conv3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
            winograd: bool = True) -> torch.Tensor:
    """A 3x3 conv with padding 1: Winograd on the CPU where it pays, else F.conv2d (which on
    GPUs picks its own fast algorithm). It pays for at least 128 channels in and out and
    16x16 pixels (sides multiples of 4); below that the transforms cost more than the
    multiplications they save (measured on 2 cores: 2.5x faster at 256 channels and 64 px,
    forward and backward; 1.1-1.6x at 128; 0.5-1.2x at 32-64)."""
    n, c, h, w = x.shape
    if (winograd and x.device.type == "cpu" and h % 4 == 0 and w % 4 == 0 and h * w >= 256
            and min(weight.shape[:2]) >= 128):
        out = conv3x3_winograd(x, weight)
        return out if bias is None else out + bias.view(1, -1, 1, 1)
    return F.conv2d(x, weight, bias, padding=1)
