"""StyleGAN2 generator and discriminator, pure PyTorch.

State-dict keys, shapes and forward semantics follow rosinality/stylegan2-pytorch, so its
checkpoints load as they are:

    G = Generator(size=256, style_dim=512, n_mlp=8, channel_multiplier=2)
    G.load_state_dict(ckpt["g_ema"])            # keys style.1.weight, input.input, convs.N.* ...
    img, _ = G([torch.randn(4, 512)])           # (4, 3, 256, 256), roughly in [-1, 1]

    D = Discriminator(size=256, channel_multiplier=2)
    logit = D(img)                              # (4, 1); high = "real"

One addition: `channel_max` caps every layer's width, for small models that train on a CPU
(rosinality's widths are 512 up to 32 px). `channel_max=None` is the reference layout.
`g_channel_max` lets G be wider than D, and `widen_into` copies a trained G into a wider one
that computes the same images (how a run grows G's capacity without starting again).

Every layer with a fast path keeps the straightforward one beside it (`set_reference`):
  * ModulatedConv2d: the reference modulates/demodulates the weights per sample and runs one
    grouped conv; the fast path scales the input by the style, runs one ordinary batched conv
    with the shared weight, then scales the output by the demodulation factor.
  * StyledConv, ConvLayer, ResBlock: the reference runs each step as its own pass over the
    activations (demodulate, add noise, add bias, leaky ReLU, times sqrt(2), (a + b) / sqrt(2));
    the fast path folds the constant gains into the weights and biases (leaky_relu(c z) =
    c leaky_relu(z) for c > 0), lets the conv add its bias, and runs the rest in-place, so a
    64 px layer makes 2-3 passes over memory instead of 5-6. A D skip path blurs only the
    pixels its stride-2 1x1 conv reads.
The two agree to float rounding (tests, values and gradients).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .ops import conv3x3, leaky_relu_bias, make_kernel, upfirdn2d

BLUR = (1, 3, 3, 1)


def channel_table(channel_multiplier: int = 2, channel_max: int | None = None,
                  channel_base: int | None = None) -> dict[int, int]:
    """Feature maps per resolution: rosinality's table, optionally capped at `channel_max`;
    or, with `channel_base`, NVIDIA's rule min(channel_base // res, channel_max or 512)."""
    cm = channel_multiplier
    table = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm,
             256: 64 * cm, 512: 32 * cm, 1024: 16 * cm}
    if channel_base is not None:
        return {r: max(1, min(channel_base // r, channel_max or 512)) for r in table}
    if channel_max is not None:
        table = {r: min(c, channel_max) for r, c in table.items()}
    return table


@dataclass
class StyleGAN2Config:
    """Architecture of a StyleGAN2 pair (G and D share size and widths, except that
    `g_channel_max`, where set, caps G's layers instead of `channel_max`)."""
    size: int = 64
    style_dim: int = 512
    n_mlp: int = 8
    channel_multiplier: int = 2
    channel_max: int | None = None
    lr_mlp: float = 0.01
    channel_base: int | None = None
    mbstd_group: int = 4     # D's minibatch-stddev group (samples whose spread D sees together)
    g_channel_max: int | None = None   # G's widest layer where it differs from D's (None: channel_max)

    def __post_init__(self):
        ints = {"size": (4, 1024), "style_dim": (1, 4096), "n_mlp": (0, 64), "channel_multiplier": (1, 8),
                "channel_max": (1, 4096), "channel_base": (1, 1 << 20), "mbstd_group": (1, 4096),
                "g_channel_max": (1, 4096)}
        for name, (lo, hi) in ints.items():
            v = getattr(self, name)
            if v is None and name in ("channel_max", "channel_base", "g_channel_max"):
                continue
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {v!r}")
        if self.size & (self.size - 1):
            raise ValueError(f"size must be a power of two between 4 and 1024, got {self.size}")
        if not isinstance(self.lr_mlp, (int, float)) or not 0 < self.lr_mlp < 1e6:
            raise ValueError(f"lr_mlp must be a positive number, got {self.lr_mlp!r}")

    @property
    def g_max(self) -> int | None:
        """The cap on G's widths."""
        return self.g_channel_max or self.channel_max



# ----------------------------------------------------------------------------- basic layers

class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(torch.mean(x ** 2, dim=1, keepdim=True) + 1e-8)


class Upsample(nn.Module):
    """x2 upsampling with the blur kernel (used on the RGB skip path)."""

    def __init__(self, kernel=BLUR, factor=2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(kernel) * factor ** 2)
        p = self.kernel.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x):
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class Blur(nn.Module):
    def __init__(self, kernel, pad, upsample_factor=1):
        super().__init__()
        k = make_kernel(kernel)
        if upsample_factor > 1:
            k = k * upsample_factor ** 2
        self.register_buffer("kernel", k)
        self.pad = pad

    def forward(self, x):
        return upfirdn2d(x, self.kernel, pad=self.pad)


class EqualConv2d(nn.Module):
    """Conv with equalised learning rate: weights ~ N(0,1) scaled by 1/sqrt(fan_in) at run time."""

    def __init__(self, in_ch, out_ch, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(in_ch * kernel_size ** 2)
        self.stride, self.padding = stride, padding
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, bias=self.bias,
                        stride=self.stride, padding=self.padding)


class EqualLinear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, bias_init=0.0, lr_mul=1.0, activation=None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.zeros(out_dim).fill_(bias_init)) if bias else None
        self.activation = activation
        self.scale = (1 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul

    def forward(self, x):
        bias = self.bias * self.lr_mul if self.bias is not None else None
        if self.activation:
            return leaky_relu_bias(F.linear(x, self.weight * self.scale), bias)
        return F.linear(x, self.weight * self.scale, bias=bias)


class FusedLeakyReLU(nn.Module):
    """Bias + leaky ReLU(0.2) * sqrt(2). Keeps rosinality's parameter name `bias`."""

    def __init__(self, channel, bias=True):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel)) if bias else None

    def forward(self, x):
        return leaky_relu_bias(x, self.bias)


class ScaledLeakyReLU(nn.Module):
    def forward(self, x):
        return F.leaky_relu(x, 0.2) * math.sqrt(2)


# ----------------------------------------------------------------------------- generator

class ModulatedConv2d(nn.Module):
    def __init__(self, in_ch, out_ch, kernel_size, style_dim, demodulate=True,
                 upsample=False, downsample=False, blur_kernel=BLUR):
        super().__init__()
        self.in_channel, self.out_channel, self.kernel_size = in_ch, out_ch, kernel_size
        self.upsample, self.downsample = upsample, downsample
        if upsample:
            p = (len(blur_kernel) - 2) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + 1, p // 2 + 1), upsample_factor=2)
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2, p // 2))
        self.scale = 1 / math.sqrt(in_ch * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1)
        self.demodulate = demodulate
        self.reference = False  # True: the grouped-conv reference formulation (set_reference)
        self.winograd = True   # fast path's 3x3 convs by Winograd on the CPU (see ops.conv3x3)

    def forward(self, x, style):
        # x: (B, in, H, W); style: (B, style_dim) -> (B, out, H', W')
        if self.reference:
            return self._forward_grouped(x, style)
        out, dcoefs = self.forward_parts(x, style)
        return out if dcoefs is None else out * dcoefs.view(*dcoefs.shape, 1, 1)

    def forward_parts(self, x, style):
        """Fast path without its last step: (conv of the modulated input, demodulation
        factors (B, out) or None); the caller applies the factors, fused with what follows."""
        b, cin = x.shape[:2]
        weight = self.scale * self.weight[0]                    # (out, in, k, k)
        s = self.modulation(style)                              # (B, in)
        x = x * s.view(b, cin, 1, 1)
        if self.upsample:
            out = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
            out = self.blur(out)
        elif self.downsample:
            out = F.conv2d(self.blur(x), weight, stride=2)
        elif self.kernel_size == 3:
            out = conv3x3(x, weight, winograd=self.winograd)
        else:
            out = F.conv2d(x, weight, padding=self.padding)
        if not self.demodulate:
            return out, None
        # ||w * s||_2 over (in, k, k) for each (sample, out) = sqrt(s^2 @ sum_k w^2)
        wsq = weight.square().sum((2, 3))                       # (out, in)
        return out, torch.rsqrt(s.square() @ wsq.t() + 1e-8)   # (B, out)

    def _forward_grouped(self, x, style):
        """Reference formulation: modulate and demodulate the weights per sample."""
        b, cin, h, w = x.shape
        k, cout = self.kernel_size, self.out_channel
        s = self.modulation(style).view(b, 1, cin, 1, 1)
        weight = self.scale * self.weight * s                   # (B, out, in, k, k)
        if self.demodulate:
            demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
            weight = weight * demod.view(b, cout, 1, 1, 1)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(b * cin, cout, k, k)
            out = F.conv_transpose2d(x.reshape(1, b * cin, h, w), weight, stride=2, groups=b)
            out = self.blur(out.view(b, cout, out.shape[2], out.shape[3]))
        elif self.downsample:
            x = self.blur(x)
            out = F.conv2d(x.reshape(1, b * cin, *x.shape[2:]), weight.view(b * cout, cin, k, k),
                           stride=2, groups=b)
            out = out.view(b, cout, out.shape[2], out.shape[3])
        else:
            out = F.conv2d(x.reshape(1, b * cin, h, w), weight.view(b * cout, cin, k, k),
                           padding=self.padding, groups=b)
            out = out.view(b, cout, h, w)
        return out


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, image, noise=None):
        if noise is None:
            b, _, h, w = image.shape
            noise = image.new_empty(b, 1, h, w).normal_()
        return image + self.weight * noise


class ConstantInput(nn.Module):
    def __init__(self, channel, size=4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, latent):
        return self.input.repeat(latent.shape[0], 1, 1, 1)


class StyledConv(nn.Module):
    def __init__(self, in_ch, out_ch, kernel_size, style_dim, upsample=False,
                 blur_kernel=BLUR, demodulate=True):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, kernel_size, style_dim, upsample=upsample,
                                    blur_kernel=blur_kernel, demodulate=demodulate)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_ch)
        self.reference = False

    def forward(self, x, style, noise=None):
        if self.reference:
            return self.activate(self.noise(self.conv(x, style), noise=noise))
        # sqrt(2) leaky_relu(out * d + w_n * noise + b) = leaky_relu(out * (g d) + (g w_n) * noise + g b)
        g = math.sqrt(2)
        out, d = self.conv.forward_parts(x, style)
        b, c, h, w = out.shape
        if noise is None:
            noise = out.new_empty(b, 1, h, w).normal_()
        d = torch.ones(b, c, device=out.device, dtype=out.dtype) if d is None else d
        y = torch.addcmul((self.noise.weight * g) * noise, out, (d * g).view(b, c, 1, 1))
        y = y.add_((self.activate.bias * g).view(1, c, 1, 1))
        return F.leaky_relu(y, 0.2, inplace=True)


class ToRGB(nn.Module):
    def __init__(self, in_ch, style_dim, upsample=True, blur_kernel=BLUR):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_ch, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


MAPPING = "style."   # the name prefix of the Generator's mapping network's parameters (z -> w)


class Generator(nn.Module):
    """z (B, style_dim) -> mapping MLP -> w -> synthesis -> image (B, 3, size, size)."""

    def __init__(self, size, style_dim=512, n_mlp=8, channel_multiplier=2, blur_kernel=BLUR,
                 lr_mlp=0.01, channel_max=None, channel_base=None):
        super().__init__()
        self.config = StyleGAN2Config(size, style_dim, n_mlp, channel_multiplier, channel_max, lr_mlp,
                                      channel_base)
        self.size, self.style_dim = size, style_dim
        layers = [PixelNorm()]
        for _ in range(n_mlp):
            layers.append(EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation="fused_lrelu"))
        self.style = nn.Sequential(*layers)

        self.channels = channel_table(channel_multiplier, channel_max, channel_base)
        ch = self.channels
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], 3, style_dim, blur_kernel=blur_kernel)
        self.to_rgb1 = ToRGB(ch[4], style_dim, upsample=False)

        self.log_size = int(math.log2(size))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.convs, self.to_rgbs = nn.ModuleList(), nn.ModuleList()
        self.upsamples = nn.ModuleList()  # empty; kept for key compatibility with rosinality
        self.noises = nn.Module()
        for i in range(self.num_layers):
            res = (i + 5) // 2
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, 2 ** res, 2 ** res))

        in_ch = ch[4]
        for i in range(3, self.log_size + 1):
            out_ch = ch[2 ** i]
            self.convs.append(StyledConv(in_ch, out_ch, 3, style_dim, upsample=True, blur_kernel=blur_kernel))
            self.convs.append(StyledConv(out_ch, out_ch, 3, style_dim, blur_kernel=blur_kernel))
            self.to_rgbs.append(ToRGB(out_ch, style_dim))
            in_ch = out_ch
        self.n_latent = self.log_size * 2 - 2

    # -- latents
    def make_noise(self, device=None):
        device = device or self.input.input.device
        noises = [torch.randn(1, 1, 4, 4, device=device)]
        for i in range(3, self.log_size + 1):
            noises += [torch.randn(1, 1, 2 ** i, 2 ** i, device=device) for _ in range(2)]
        return noises

    @torch.no_grad()
    def mean_latent(self, n_latent=4096):
        z = torch.randn(n_latent, self.style_dim, device=self.input.input.device)
        return self.style(z).mean(0, keepdim=True)

    def get_latent(self, z):
        return self.style(z)

    def forward(self, styles, return_latents=False, inject_index=None, truncation=1.0,
                truncation_latent=None, input_is_latent=False, noise=None, randomize_noise=True):
        """styles: list of 1 or 2 tensors (B, style_dim) (z, or w with input_is_latent), or
        one (B, n_latent, style_dim) W+ tensor. Returns (image, latent or None)."""
        if not input_is_latent:
            styles = [self.style(s) for s in styles]
        if noise is None:
            noise = ([None] * self.num_layers if randomize_noise else
                     [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)])
        if truncation != 1:   # psi < 1 pulls towards the mean w, psi > 1 pushes away from it
            styles = [truncation_latent + truncation * (s - truncation_latent) for s in styles]

        if len(styles) < 2:
            latent = styles[0] if styles[0].ndim == 3 else styles[0].unsqueeze(1).repeat(1, self.n_latent, 1)
        else:  # style mixing: first `inject_index` layers from styles[0], the rest from styles[1]
            if inject_index is None:
                inject_index = random.randint(1, self.n_latent - 1)
            latent = torch.cat([styles[0].unsqueeze(1).repeat(1, inject_index, 1),
                                styles[1].unsqueeze(1).repeat(1, self.n_latent - inject_index, 1)], 1)

        out = self.input(latent)
        out = self.conv1(out, latent[:, 0], noise=noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for conv1, conv2, n1, n2, to_rgb in zip(self.convs[::2], self.convs[1::2],
                                                noise[1::2], noise[2::2], self.to_rgbs):
            out = conv1(out, latent[:, i], noise=n1)
            out = conv2(out, latent[:, i + 1], noise=n2)
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return (skip, latent) if return_latents else (skip, None)


# ----------------------------------------------------------------------------- discriminator

class ConvLayer(nn.Sequential):
    def __init__(self, in_ch, out_ch, kernel_size, downsample=False, blur_kernel=BLUR,
                 bias=True, activate=True):
        layers = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(EqualConv2d(in_ch, out_ch, kernel_size, padding=padding, stride=stride,
                                  bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_ch, bias=bias))
        super().__init__(*layers)
        self.reference = False
        self.winograd = True   # fast path's 3x3 stride-1 convs by Winograd on the CPU

    def forward(self, x, gain: float = 1.0):
        """The layers in turn, times `gain` (> 0). The fast path folds the gains into the
        conv's weight and bias: leaky_relu(conv(x, w, b)) * c = leaky_relu(conv(x, c w, c b))."""
        if self.reference:
            out = super().forward(x)
            return out * gain if gain != 1.0 else out
        blur = self[0] if isinstance(self[0], Blur) else None
        conv = self[1] if blur is not None else self[0]
        act = self[-1] if isinstance(self[-1], FusedLeakyReLU) else None
        c = gain * (math.sqrt(2) if act is not None else 1.0)
        bias = act.bias if act is not None else conv.bias
        weight = conv.weight * (conv.scale * c)
        bias = bias * c if bias is not None else None
        stride = conv.stride
        if blur is not None:
            if conv.weight.shape[-1] == 1:  # a 1x1 stride-2 conv reads every other pixel: blur only those
                x, stride = upfirdn2d(x, blur.kernel, down=stride, pad=blur.pad), 1
            else:
                x = blur(x)
        if weight.shape[-1] == 3 and stride == 1:
            out = conv3x3(x, weight, bias, winograd=self.winograd)
        else:
            out = F.conv2d(x, weight, bias=bias, stride=stride, padding=conv.padding)
        return F.leaky_relu(out, 0.2, inplace=True) if act is not None else out


class ResBlock(nn.Module):
    def __init__(self, in_ch, out_ch, blur_kernel=BLUR):
        super().__init__()
        self.conv1 = ConvLayer(in_ch, in_ch, 3)
        self.conv2 = ConvLayer(in_ch, out_ch, 3, downsample=True)
        self.skip = ConvLayer(in_ch, out_ch, 1, downsample=True, activate=False, bias=False)
        self.reference = False

    def forward(self, x):
        if self.reference:
            return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)
        g = 1 / math.sqrt(2)  # folded into both branches' weights
        return self.conv2(self.conv1(x), gain=g) + self.skip(x, gain=g)


class Discriminator(nn.Module):
    """image (B, 3, size, size) -> logit (B, 1). Positive = judged real.

    Its last block sees one extra channel: the standard deviation of the features over groups of
    `mbstd_group` samples of the batch (rosinality and StyleGAN2 use 4; NVIDIA's small-image config
    uses the whole batch), so D can tell a batch of samples that are too much alike."""

    def __init__(self, size, channel_multiplier=2, blur_kernel=BLUR, channel_max=None, channel_base=None,
                 mbstd_group=4):
        super().__init__()
        self.size = size
        ch = channel_table(channel_multiplier, channel_max, channel_base)
        convs = [ConvLayer(3, ch[size], 1)]
        in_ch = ch[size]
        for i in range(int(math.log2(size)), 2, -1):
            out_ch = ch[2 ** (i - 1)]
            convs.append(ResBlock(in_ch, out_ch, blur_kernel))
            in_ch = out_ch
        self.convs = nn.Sequential(*convs)
        self.stddev_group, self.stddev_feat = mbstd_group, 1
        self.final_conv = ConvLayer(in_ch + 1, ch[4], 3)
        self.final_linear = nn.Sequential(
            EqualLinear(ch[4] * 4 * 4, ch[4], activation="fused_lrelu"),
            EqualLinear(ch[4], 1),
        )

    def features(self, x) -> list[torch.Tensor]:
        """Intermediate activations (one per resolution), e.g. for perceptual losses."""
        feats = []
        for layer in self.convs:
            x = layer(x)
            feats.append(x)
        return feats

    def forward(self, x):
        out = self.convs(x)
        b, c, h, w = out.shape
        group = min(b, self.stddev_group)
        if b % group:  # rosinality requires divisibility; fall back to the largest divisor
            group = max(g for g in range(1, group + 1) if b % g == 0)
        std = out.view(group, -1, self.stddev_feat, c // self.stddev_feat, h, w)
        std = torch.sqrt(std.var(0, unbiased=False) + 1e-8)
        std = std.mean([2, 3, 4], keepdim=True).squeeze(2)
        std = std.repeat(group, 1, h, w)
        out = self.final_conv(torch.cat([out, std], 1))
        return self.final_linear(out.view(b, -1))


@torch.no_grad()
def widen_into(new: Generator, old: Generator) -> None:
    """Copy the trained `old` into `new`, a Generator of the same layout with layers at least as
    wide (built with a larger channel_max), so that `new` computes what `old` computed, for every
    latent and noise, and its extra channels are free to learn:

      * every tensor's old slice is copied; the rest keeps `new`'s own initialisation (the new
        channels' constant input, modulation rows with bias 1, convolution rows, zero biases);
      * in a convolution whose input widened, the old output channels read nothing from the new
        input channels (zero weights: they add nothing to the output nor to the demodulation
        sum), and their weights are multiplied by sqrt(in_new / in_old), because the equalised
        learning rate scales weights by 1 / sqrt(fan_in) at run time.
    The gradient reaches those zero weights at once (the new channels' features are not zero),
    so training grows the new capacity from a state that starts as the old one (how fast it
    does is another matter: docs/TRAINING.md, the twenty-fifth session)."""
    olds = {**dict(old.named_parameters()), **dict(old.named_buffers())}
    news = {**dict(new.named_parameters()), **dict(new.named_buffers())}
    if olds.keys() != news.keys():
        raise ValueError(f"not the same layout: {sorted(olds.keys() ^ news.keys())[:4]}")
    modulated = {f"{name}.weight" for name, m in new.named_modules() if isinstance(m, ModulatedConv2d)}
    for name, t in news.items():
        o = olds[name]
        if o.ndim != t.ndim or any(a < b for a, b in zip(t.shape, o.shape)):
            raise ValueError(f"{name}: {tuple(o.shape)} does not fit in {tuple(t.shape)} (only widening)")
        old_slice = tuple(slice(0, n) for n in o.shape)
        if name in modulated:                         # (1, out, in, k, k)
            t[:, :o.shape[1]] = 0
            t[old_slice] = o.to(t) * math.sqrt(t.shape[2] / o.shape[2])
        else:
            t[old_slice] = o.to(t)


def set_reference(module: nn.Module, on: bool = True) -> nn.Module:
    """Switch every layer between its straightforward reference formulation (on) and its
    fast path (off, the default): ModulatedConv2d's grouped conv, and the unfused
    StyledConv / ConvLayer / ResBlock."""
    for m in module.modules():
        if isinstance(m, (ModulatedConv2d, StyledConv, ConvLayer, ResBlock)):
            m.reference = on
    return module


def set_winograd(module: nn.Module, on: bool = True) -> nn.Module:
    """Fast path only: 3x3 stride-1 convs by Winograd F(4x4, 3x3) on the CPU (on, the default)
    or by F.conv2d (off; the direct convolution, a few times smaller float32 rounding)."""
    for m in module.modules():
        if isinstance(m, (ModulatedConv2d, ConvLayer)):
            m.winograd = on
    return module
