"""StyleGAN (1), progressive, as in rosinality/style-based-gan-pytorch: the network the
paper foiled. State-dict keys, shapes and forward semantics match that project, so its
checkpoints ({"generator", "discriminator", "g_running", optimiser states}) load as they are:

    G = StyledGenerator(code_dim=512, n_mlp=8, stage=256)     # stage: output resolution
    G.load_state_dict(ckpt["g_running"])
    img = G(torch.randn(4, 512))                              # (4, 3, 256, 256), step from stage
    D = Discriminator(from_rgb_activate=True, stage=256)
    logit = D(img)                                            # (4, 1)

`step` is log2(stage) - 2; `alpha` (-1 = fully faded in) blends with the previous stage as in
progressive training. Equalised learning rate is computed in forward (parameters keep
rosinality's `weight_orig` names) instead of with forward-pre-hooks.
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F
from torch import nn

G_CHANNELS = [(512, 512), (512, 512), (512, 512), (512, 512), (512, 256), (256, 128), (128, 64), (64, 32), (32, 16)]
D_CHANNELS = [(16, 32), (32, 64), (64, 128), (128, 256), (256, 512), (512, 512), (512, 512), (512, 512)]
RGB_CH = [512, 512, 512, 512, 256, 128, 64, 32, 16]


def _eq_scale(weight: torch.Tensor) -> float:
    """rosinality's EqualLR: sqrt(2 / fan_in), fan_in = size(1) * numel of weight[0][0]."""
    return math.sqrt(2 / (weight.shape[1] * weight[0][0].numel()))


class EqualConv2d(nn.Module):
    def __init__(self, in_ch, out_ch, kernel_size, padding=0):
        super().__init__()
        self.conv = nn.Module()
        self.conv.weight_orig = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.conv.bias = nn.Parameter(torch.zeros(out_ch))
        self.padding = padding

    def forward(self, x):
        w = self.conv.weight_orig
        return F.conv2d(x, w * _eq_scale(w), self.conv.bias, padding=self.padding)


class EqualLinear(nn.Module):
    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.linear = nn.Module()
        self.linear.weight_orig = nn.Parameter(torch.randn(out_dim, in_dim))
        self.linear.bias = nn.Parameter(torch.zeros(out_dim))

    def forward(self, x):
        w = self.linear.weight_orig
        return F.linear(x, w * _eq_scale(w), self.linear.bias)


class Blur(nn.Module):
    """3x3 [1 2 1] binomial blur, depthwise (buffers `weight`, `weight_flip` as in rosinality)."""

    def __init__(self, channel):
        super().__init__()
        k = torch.tensor([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=torch.float32).view(1, 1, 3, 3)
        k = k / k.sum()
        self.register_buffer("weight", k.repeat(channel, 1, 1, 1))
        self.register_buffer("weight_flip", torch.flip(k, [2, 3]).repeat(channel, 1, 1, 1))

    def forward(self, x):
        return F.conv2d(x, self.weight, padding=1, groups=x.shape[1])


def _smooth_kernel(w: torch.Tensor) -> torch.Tensor:
    """Average of the 4 one-pixel shifts of a kernel: (k, k) -> (k+1, k+1)."""
    w = F.pad(w, [1, 1, 1, 1])
    return (w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]) / 4


class FusedUpsample(nn.Module):
    def __init__(self, in_ch, out_ch, kernel_size, padding=0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_ch, out_ch, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.multiplier = math.sqrt(2 / (in_ch * kernel_size * kernel_size))
        self.pad = padding

    def forward(self, x):
        return F.conv_transpose2d(x, _smooth_kernel(self.weight * self.multiplier), self.bias, stride=2,
                                  padding=self.pad)


class FusedDownsample(nn.Module):
    def __init__(self, in_ch, out_ch, kernel_size, padding=0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.multiplier = math.sqrt(2 / (in_ch * kernel_size * kernel_size))
        self.pad = padding

    def forward(self, x):
        return F.conv2d(x, _smooth_kernel(self.weight * self.multiplier), self.bias, stride=2, padding=self.pad)


class NoiseInjection(nn.Module):
    def __init__(self, channel):
        super().__init__()
        self.weight_orig = nn.Parameter(torch.zeros(1, channel, 1, 1))

    def forward(self, image, noise):
        return image + self.weight_orig * _eq_scale(self.weight_orig) * noise


class AdaptiveInstanceNorm(nn.Module):
    def __init__(self, in_ch, style_dim):
        super().__init__()
        self.norm = nn.InstanceNorm2d(in_ch)
        self.style = EqualLinear(style_dim, in_ch * 2)
        with torch.no_grad():
            self.style.linear.bias[:in_ch] = 1
            self.style.linear.bias[in_ch:] = 0

    def forward(self, x, style):
        gamma, beta = self.style(style).unsqueeze(2).unsqueeze(3).chunk(2, 1)
        return gamma * self.norm(x) + beta


class ConstantInput(nn.Module):
    def __init__(self, channel, size=4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, x):
        return self.input.repeat(x.shape[0], 1, 1, 1)


class StyledConvBlock(nn.Module):
    def __init__(self, in_ch, out_ch, style_dim=512, initial=False, upsample=False, fused=False):
        super().__init__()
        if initial:
            self.conv1 = ConstantInput(in_ch)
        elif upsample and fused:
            self.conv1 = nn.Sequential(FusedUpsample(in_ch, out_ch, 3, padding=1), Blur(out_ch))
        elif upsample:
            self.conv1 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                       EqualConv2d(in_ch, out_ch, 3, padding=1), Blur(out_ch))
        else:
            self.conv1 = EqualConv2d(in_ch, out_ch, 3, padding=1)
        self.noise1, self.adain1 = NoiseInjection(out_ch), AdaptiveInstanceNorm(out_ch, style_dim)
        self.conv2 = EqualConv2d(out_ch, out_ch, 3, padding=1)
        self.noise2, self.adain2 = NoiseInjection(out_ch), AdaptiveInstanceNorm(out_ch, style_dim)

    def forward(self, x, style, noise):
        out = self.adain1(F.leaky_relu(self.noise1(self.conv1(x), noise), 0.2), style)
        return self.adain2(F.leaky_relu(self.noise2(self.conv2(out), noise), 0.2), style)


class Synthesis(nn.Module):
    def __init__(self, code_dim=512, fused=True):
        super().__init__()
        self.progression = nn.ModuleList(
            [StyledConvBlock(i, o, code_dim, initial=(n == 0), upsample=(n > 0), fused=fused and n >= 5)
             for n, (i, o) in enumerate(G_CHANNELS)])
        self.to_rgb = nn.ModuleList([EqualConv2d(c, 3, 1) for c in RGB_CH])

    def forward(self, styles, noise, step=0, alpha=-1.0, mixing_range=(-1, -1)):
        inject = [len(self.progression) + 1] if len(styles) < 2 else sorted(random.sample(range(step), len(styles) - 1))
        crossover, out, out_prev = 0, noise[0], None
        for i, (conv, to_rgb) in enumerate(zip(self.progression, self.to_rgb)):
            if mixing_range == (-1, -1):
                if crossover < len(inject) and i > inject[crossover]:
                    crossover = min(crossover + 1, len(styles))
                style = styles[crossover]
            else:
                style = styles[1] if mixing_range[0] <= i <= mixing_range[1] else styles[0]
            if i > 0 and step > 0:
                out_prev = out
            out = conv(out, style, noise[i])
            if i == step:
                out = to_rgb(out)
                if i > 0 and 0 <= alpha < 1:
                    skip = F.interpolate(self.to_rgb[i - 1](out_prev), scale_factor=2, mode="nearest")
                    out = (1 - alpha) * skip + alpha * out
                return out
        return out


def stage_to_step(stage: int) -> int:
    step = int(math.log2(stage)) - 2
    if stage < 8 or 2 ** (step + 2) != stage or step > 8:
        raise ValueError(f"stage {stage}: must be a power of two from 8 to 1024")
    return step


class StyledGenerator(nn.Module):
    """rosinality's StyledGenerator; `stage` (resolution) sets the default step."""

    def __init__(self, code_dim=512, n_mlp=8, stage=256, alpha=-1.0, fused=True):
        super().__init__()
        self.generator = Synthesis(code_dim, fused)
        layers = [PixelNormS()]
        for _ in range(n_mlp):
            layers += [EqualLinear(code_dim, code_dim), nn.LeakyReLU(0.2)]
        self.style = nn.Sequential(*layers)
        self.style_dim, self.size, self.step, self.alpha = code_dim, stage, stage_to_step(stage), alpha

    def mean_latent(self, n=4096):
        with torch.no_grad():
            return self.style(torch.randn(n, self.style_dim, device=self.style[1].linear.weight_orig.device)).mean(0, keepdim=True)

    def forward(self, z, noise=None, step=None, alpha=None, mean_style=None, style_weight=0.0,
                mixing_range=(-1, -1)):
        step = self.step if step is None else step
        alpha = self.alpha if alpha is None else alpha
        zs = z if isinstance(z, (list, tuple)) else [z]
        styles = [self.style(s) for s in zs]
        if noise is None:
            b = zs[0].shape[0]
            noise = [torch.randn(b, 1, 4 * 2 ** i, 4 * 2 ** i, device=zs[0].device) for i in range(step + 1)]
        if mean_style is not None:
            styles = [mean_style + style_weight * (s - mean_style) for s in styles]
        return self.generator(styles, noise, step, alpha, mixing_range)


class PixelNormS(nn.Module):
    def forward(self, x):
        return x / torch.sqrt(torch.mean(x ** 2, dim=1, keepdim=True) + 1e-8)


class ConvBlock(nn.Module):
    def __init__(self, in_ch, out_ch, kernel_size=3, padding=1, kernel_size2=None, padding2=None,
                 downsample=False, fused=False):
        super().__init__()
        k2 = kernel_size if kernel_size2 is None else kernel_size2
        p2 = padding if padding2 is None else padding2
        self.conv1 = nn.Sequential(EqualConv2d(in_ch, out_ch, kernel_size, padding=padding), nn.LeakyReLU(0.2))
        if downsample and fused:
            self.conv2 = nn.Sequential(Blur(out_ch), FusedDownsample(out_ch, out_ch, k2, padding=p2), nn.LeakyReLU(0.2))
        elif downsample:
            self.conv2 = nn.Sequential(Blur(out_ch), EqualConv2d(out_ch, out_ch, k2, padding=p2), nn.AvgPool2d(2),
                                       nn.LeakyReLU(0.2))
        else:
            self.conv2 = nn.Sequential(EqualConv2d(out_ch, out_ch, k2, padding=p2), nn.LeakyReLU(0.2))

    def forward(self, x):
        return self.conv2(self.conv1(x))


class Discriminator(nn.Module):
    """rosinality's progressive Discriminator; `stage` sets the default step."""

    def __init__(self, fused=True, from_rgb_activate=True, stage=256, alpha=-1.0):
        super().__init__()
        blocks = [ConvBlock(i, o, 3, 1, downsample=True, fused=fused and n < 4) for n, (i, o) in enumerate(D_CHANNELS)]
        self.progression = nn.ModuleList(blocks + [ConvBlock(513, 512, 3, 1, 4, 0)])

        def from_rgb(c):
            return nn.Sequential(EqualConv2d(3, c, 1), nn.LeakyReLU(0.2)) if from_rgb_activate else EqualConv2d(3, c, 1)

        self.from_rgb = nn.ModuleList([from_rgb(c) for c in (16, 32, 64, 128, 256, 512, 512, 512, 512)])
        self.n_layer = len(self.progression)
        self.linear = EqualLinear(512, 1)
        self.size, self.step, self.alpha = stage, stage_to_step(stage), alpha

    def forward(self, x, step=None, alpha=None):
        step = self.step if step is None else step
        alpha = self.alpha if alpha is None else alpha
        out = None
        for i in range(step, -1, -1):
            index = self.n_layer - i - 1
            if i == step:
                out = self.from_rgb[index](x)
            if i == 0:
                std = torch.sqrt(out.var(0, unbiased=False) + 1e-8).mean()
                out = torch.cat([out, std.expand(out.size(0), 1, 4, 4)], 1)
            out = self.progression[index](out)
            if i > 0 and i == step and 0 <= alpha < 1:
                skip = self.from_rgb[index + 1](F.avg_pool2d(x, 2))
                out = (1 - alpha) * skip + alpha * out
        return self.linear(out.squeeze(2).squeeze(2))
