"""Image distances for projection, from features that can be had offline.

    ms_ssim(x, y)                    multi-scale structural similarity, 1 = identical (x, y in [-1, 1])
    DFeatureLoss(gan.d_features)     distance between a discriminator's intermediate activations
    psnr(x, y)                       peak signal-to-noise ratio in dB
    IdentityLoss(face, target, k)    dlib face-descriptor distance to a target face, differentiable
    LPIPS.from_files(vgg)            LPIPS on VGG16 when the user supplies torchvision's weights file
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
import torch.nn.functional as F

from . import faces
from .errors import UncannyError
from .media import from_uint8

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
    resolution, from the adapter's `d_features`), each normalised per channel, averaged over
    layers.

        loss = DFeatureLoss(gan.d_features)
        y_feats = loss.feats(target)      # once
        d = loss(x, y_feats)
    """

    def __init__(self, features):
        super().__init__()
        self.feats = features

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

        loss = IdentityLoss.from_target(target_uint8)   # None where dlib finds no face
        d = loss(x)                             # (B,) distances; dlib calls < 0.6 the same person
    """

    def __init__(self, face, target: torch.Tensor, upscale: int):
        """face: the dlib Face found in the target enlarged `upscale` times; target (1, 3, H, W)
        in [-1, 1]."""
        super().__init__()
        self.upscale = upscale
        self.net = faces.face_net(str(target.device))
        h, w = target.shape[-2] * upscale, target.shape[-1] * upscale
        self.register_buffer("grid", faces.chip_grid(face, h, w).to(target.device))
        with torch.no_grad():
            self.register_buffer("target_desc", self.descriptor(target))

    @classmethod
    def from_target(cls, target, upscale: int = 4, device="cpu") -> "IdentityLoss | None":
        """From an aligned target (H, W, 3) uint8; None where dlib finds no face in it."""
        found = faces.find_faces(faces._enlarge(np.asarray(target), upscale), upsample=0)
        if not found:
            return None
        y = from_uint8(target).to(device)
        return cls(found[0], y, upscale)

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


# ----------------------------------------------------------------------------- LPIPS (user weights)

# torchvision's vgg16().features: (index of a conv, its channels); LPIPS reads the ReLU after
# the last conv of each of the five blocks (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3).
VGG16_CONVS = ((0, 3, 64), (2, 64, 64), "pool", (5, 64, 128), (7, 128, 128), "pool",
               (10, 128, 256), (12, 256, 256), (14, 256, 256), "pool",
               (17, 256, 512), (19, 512, 512), (21, 512, 512), "pool",
               (24, 512, 512), (26, 512, 512), (28, 512, 512))
LPIPS_TAPS = (2, 7, 14, 21, 28)          # convs whose ReLU output LPIPS compares
LPIPS_WIDTHS = (64, 128, 256, 512, 512)


def _load_tensors(path: str) -> dict:
    """A plain state dict from .safetensors or a torch file, never executing code."""
    if not os.path.isfile(path):
        raise UncannyError(f"{path}: no such file")
    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file
            return load_file(path)
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is one clear message
        raise UncannyError(f"{path}: not a readable weights file ({e.__class__.__name__}: "
                           f"{str(e).splitlines()[0][:120]})") from None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise UncannyError(f"{path}: expected a plain state dict of tensors "
                           "(TorchScript files such as NVIDIA's vgg16.pt are not loaded: they carry code)")
    return sd


class LPIPS(torch.nn.Module):
    """LPIPS (Zhang et al. 2018) on VGG16, from weights the user supplies (none can be
    downloaded or bundled here):

        lpips = LPIPS.from_files("vgg16-397923af.pth")                  # torchvision's VGG16
        lpips = LPIPS.from_files("vgg16-397923af.pth", "lpips/weights/v0.1/vgg.pth")
        d = lpips(x, y)                                                  # (B,), x, y in [-1, 1]

    With the `lpips` package's linear calibration file the distance is LPIPS v0.1; without it
    every channel weighs the same (the paper's uncalibrated "baseline" VGG distance).
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        self.convs = torch.nn.ModuleDict({str(c[0]): torch.nn.Conv2d(c[1], c[2], 3, padding=1)
                                          for c in VGG16_CONVS if c != "pool"})
        self.lins = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(1, w, 1, 1))
                                            for w in LPIPS_WIDTHS])
        self.calibrated = False

    @classmethod
    def from_files(cls, vgg_path: str, lin_path: str | None = None) -> "LPIPS":
        net = cls()
        sd = _load_tensors(vgg_path)
        with torch.no_grad():
            for i, conv in net.convs.items():
                for part in ("weight", "bias"):
                    key = f"features.{i}.{part}"
                    t = sd.get(key, sd.get(f"vgg.{key}"))
                    if t is None:
                        raise UncannyError(f"{vgg_path}: not torchvision's VGG16 state dict (no {key})")
                    if t.shape != getattr(conv, part).shape:
                        raise UncannyError(f"{vgg_path}: {key} has shape {tuple(t.shape)}, "
                                           f"VGG16 needs {tuple(getattr(conv, part).shape)}")
                    getattr(conv, part).copy_(t.float())
            if lin_path:
                lin = _load_tensors(lin_path)
                for k, p in enumerate(net.lins):
                    t = lin.get(f"lin{k}.model.1.weight")
                    if t is None or t.shape != p.shape:
                        raise UncannyError(f"{lin_path}: not the lpips package's vgg.pth "
                                           f"(lin{k}.model.1.weight missing or wrongly shaped)")
                    p.copy_(t.float())
                net.calibrated = True
        return net.eval().requires_grad_(False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.shift) / self.scale
        feats = []
        for c in VGG16_CONVS:
            if c == "pool":
                x = F.max_pool2d(x, 2)
                continue
            x = F.relu(self.convs[str(c[0])](x))
            if c[0] in LPIPS_TAPS:
                feats.append(x)
        return feats

    def forward(self, x: torch.Tensor, y: torch.Tensor | list) -> torch.Tensor:
        """(B,) distances; y may be an image batch or its precomputed `features`."""
        fy = y if isinstance(y, list) else self.features(y)
        total = 0.0
        for a, b, w in zip(self.features(x), fy, self.lins):
            a = a / (a.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            b = b / (b.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + ((a - b).pow(2) * w).sum(1).mean(dim=(1, 2))
        return total
