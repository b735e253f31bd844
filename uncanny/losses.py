"""Image distances for projection, from features that can be had offline.

    ms_ssim(x, y)            multi-scale structural similarity, 1 = identical (x, y in [-1, 1])
    DFeatureLoss(D)(x, y)    distance between a discriminator's intermediate activations
    psnr(x, y)               peak signal-to-noise ratio in dB
    IdentityLoss(target)(x)  dlib face-descriptor distance to a target face, differentiable
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _gauss(size: int, sigma: float, device, dtype) -> torch.Tensor:
    x = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def _ssim_parts(x, y, win: int):
    c = x.shape[1]
    g = _gauss(win, 1.5 * win / 11, x.device, x.dtype)
    kx = g.view(1, 1, 1, -1).expand(c, 1, 1, win)
    ky = g.view(1, 1, -1, 1).expand(c, 1, win, 1)

    def blur(t):
        return F.conv2d(F.conv2d(t, kx, groups=c), ky, groups=c)

    c1, c2 = (0.01 * 2) ** 2, (0.03 * 2) ** 2  # data range 2 ([-1, 1])
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    lum = (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)
    return (lum * cs).mean(dim=(1, 2, 3)), cs.mean(dim=(1, 2, 3))


def ms_ssim(x: torch.Tensor, y: torch.Tensor, scales: int | None = None) -> torch.Tensor:
    """(B,) MS-SSIM of two image batches; as many scales (up to 5) as the size allows."""
    size = min(x.shape[-2:])
    scales = scales or max(1, min(5, int(math.log2(size / 8)) + 1))
    w = torch.tensor(MS_SSIM_WEIGHTS[:scales], device=x.device, dtype=x.dtype)
    w = w / w.sum()
    vals = []
    for s in range(scales):
        win = min(11, min(x.shape[-2:]) - 1 | 1)
        ssim, cs = _ssim_parts(x, y, win)
        vals.append(ssim if s == scales - 1 else cs)
        if s < scales - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    vals = torch.stack(vals, 0).clamp(min=1e-6)
    return torch.prod(vals ** w.view(-1, 1), dim=0)


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(B,) PSNR in dB for images in [-1, 1] (peak-to-peak 2)."""
    mse = ((x.clamp(-1, 1) - y.clamp(-1, 1)) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(4 / mse.clamp(min=1e-10))


class DFeatureLoss(torch.nn.Module):
    """Perceptual distance from the discriminator's own intermediate features (one per
    resolution), each normalised per channel, averaged over layers."""

    def __init__(self, D):
        super().__init__()
        self.D = D

    def feats(self, x):
        if hasattr(self.D, "features"):
            return self.D.features(x)
        out, feats = x, []
        for layer in getattr(self.D, "main", []):  # DCGAN
            out = layer(out)
            if isinstance(layer, torch.nn.LeakyReLU):
                feats.append(out)
        return feats

    def forward(self, x, y_feats):
        total = 0.0
        fx = self.feats(x)
        for a, b in zip(fx, y_feats):
            a = a / (a.pow(2).mean(dim=1, keepdim=True).sqrt() + 1e-8)
            b = b / (b.pow(2).mean(dim=1, keepdim=True).sqrt() + 1e-8)
            total = total + (a - b).pow(2).mean()
        return total / max(len(fx), 1)


class IdentityLoss(torch.nn.Module):
    """dlib's identity distance, differentiable: the 128-D descriptor of dlib's ResNet (ported
    to PyTorch) on the face chip that dlib cuts from the target, taken at the same place from
    each image x. Images are enlarged `upscale` times (bicubic) first, as `faces.descriptors`
    does before measuring, so the two see the face at the same size.

        loss = IdentityLoss(target_uint8)       # None-safe: see `from_target`
        d = loss(x)                             # (B,) distances; dlib calls < 0.6 the same person
    """

    def __init__(self, grid: torch.Tensor, target: torch.Tensor, upscale: int):
        super().__init__()
        from . import faces
        self.upscale = upscale
        self.net = faces.face_net(str(target.device))
        self.register_buffer("grid", grid.to(target.device))
        with torch.no_grad():
            self.register_buffer("target_desc", self.descriptor(target))

    @classmethod
    def from_target(cls, target, upscale: int = 4, device="cpu") -> "IdentityLoss | None":
        """From an aligned target (H, W, 3) uint8; None where dlib finds no face in it."""
        import numpy as np
        from . import faces
        big = faces._enlarge(np.asarray(target), upscale)
        found = faces.find_faces(big, upsample=0)
        if not found:
            return None
        grid = faces.chip_grid(found[0], big.shape[0], big.shape[1])
        y = torch.from_numpy(np.array(target)).permute(2, 0, 1)[None].float().to(device) / 127.5 - 1
        return cls(grid, y, upscale)

    def descriptor(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> (B, 128)."""
        if self.upscale > 1:
            x = F.interpolate(x, scale_factor=self.upscale, mode="bicubic", align_corners=False)
        x = ((x.clamp(-1, 1) + 1) * 127.5)
        chips = F.grid_sample(x, self.grid.expand(x.shape[0], -1, -1, -1), mode="bilinear",
                              padding_mode="border", align_corners=False)
        return self.net(chips)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.descriptor(x) - self.target_desc).norm(dim=1)
