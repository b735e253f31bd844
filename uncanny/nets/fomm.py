"""The First Order Motion Model (Siarohin et al., NeurIPS 2019) for image animation: a keypoint
detector, a dense-motion network and an occlusion-aware generator, written from the paper and
laid out so that the original checkpoints (vox-cpk.pth.tar: "kp_detector", "generator") load
by name. Evaluated only (batch norm uses its running statistics).

    cfg = FommConfig()                              # the vox-256 configuration
    kp_det, gen = KeypointDetector(cfg), Generator(cfg)
    kp = kp_det(img)                                # img (B, 3, 256, 256) in [0, 1]
    # kp["value"] (B, K, 2) in [-1, 1] (x, y); kp["jacobian"] (B, K, 2, 2)
    out = gen(source, kp_source, kp_driving)        # out["prediction"] (B, 3, 256, 256) in [0, 1]

Sampling follows today's PyTorch defaults (grid_sample and bilinear resizing with
align_corners=False), as the public code does when run on a current PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class FommConfig:
    num_kp: int = 10
    num_channels: int = 3
    estimate_jacobian: bool = True
    kp_temperature: float = 0.1
    kp_block_expansion: int = 32
    kp_max_features: int = 1024
    kp_scale_factor: float = 0.25
    kp_num_blocks: int = 5
    block_expansion: int = 64          # generator
    max_features: int = 512
    num_down_blocks: int = 2
    num_bottleneck_blocks: int = 6
    estimate_occlusion_map: bool = True
    dm_block_expansion: int = 64       # dense motion
    dm_max_features: int = 1024
    dm_num_blocks: int = 5
    dm_scale_factor: float = 0.25
    kp_variance: float = 0.01


def coordinate_grid(h: int, w: int, like: torch.Tensor) -> torch.Tensor:
    """(h, w, 2) x, y in [-1, 1], the corners at -1 and 1."""
    x = torch.arange(w, dtype=like.dtype, device=like.device) / (w - 1) * 2 - 1
    y = torch.arange(h, dtype=like.dtype, device=like.device) / (h - 1) * 2 - 1
    return torch.stack([x.view(1, w).expand(h, w), y.view(h, 1).expand(h, w)], -1)


def gaussians(kp: torch.Tensor, h: int, w: int, variance: float) -> torch.Tensor:
    """kp (B, K, 2) -> heat maps (B, K, h, w): exp(-|p - kp|^2 / 2 variance)."""
    d = coordinate_grid(h, w, kp)[None, None] - kp[:, :, None, None, :]
    return torch.exp(-0.5 * d.pow(2).sum(-1) / variance)


# ----------------------------------------------------------------------------- blocks


class ConvNorm(nn.Module):
    """conv -> batch norm -> ReLU (the `SameBlock2d` of the paper's code)."""

    def __init__(self, cin, cout, k=3, pad=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=pad)
        self.norm = nn.BatchNorm2d(cout, affine=True)

    def forward(self, x):
        return F.relu(self.norm(self.conv(x)))


class Down(ConvNorm):
    """conv -> norm -> ReLU -> 2x2 average pool."""

    def forward(self, x):
        return F.avg_pool2d(super().forward(x), 2)


class Up(ConvNorm):
    """2x nearest upsampling -> conv -> norm -> ReLU."""

    def forward(self, x):
        return super().forward(F.interpolate(x, scale_factor=2))


class Res(nn.Module):
    """Pre-activation residual block: x + conv(relu(norm(conv(relu(norm(x))))))."""

    def __init__(self, c):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1)
        self.norm1, self.norm2 = nn.BatchNorm2d(c, affine=True), nn.BatchNorm2d(c, affine=True)

    def forward(self, x):
        return x + self.conv2(F.relu(self.norm2(self.conv1(F.relu(self.norm1(x))))))


class Encoder(nn.Module):
    def __init__(self, expansion, cin, blocks, max_features):
        super().__init__()
        width = [cin] + [min(max_features, expansion * 2 ** (i + 1)) for i in range(blocks)]
        self.down_blocks = nn.ModuleList(Down(width[i], width[i + 1]) for i in range(blocks))

    def forward(self, x):
        outs = [x]
        for block in self.down_blocks:
            outs.append(block(outs[-1]))
        return outs


class Decoder(nn.Module):
    def __init__(self, expansion, cin, blocks, max_features):
        super().__init__()
        ups = []
        for i in reversed(range(blocks)):
            c_in = (1 if i == blocks - 1 else 2) * min(max_features, expansion * 2 ** (i + 1))
            ups.append(Up(c_in, min(max_features, expansion * 2 ** i)))
        self.up_blocks = nn.ModuleList(ups)
        self.out_filters = expansion + cin

    def forward(self, skips):
        skips = list(skips)
        out = skips.pop()
        for block in self.up_blocks:
            out = torch.cat([block(out), skips.pop()], 1)
        return out


class Hourglass(nn.Module):
    """U-Net: `blocks` downsamplings, as many upsamplings, skips concatenated; the output has
    expansion + cin channels at the input's size."""

    def __init__(self, expansion, cin, blocks, max_features):
        super().__init__()
        self.encoder = Encoder(expansion, cin, blocks, max_features)
        self.decoder = Decoder(expansion, cin, blocks, max_features)
        self.out_filters = self.decoder.out_filters

    def forward(self, x):
        return self.decoder(self.encoder(x))


class AntiAliasDown(nn.Module):
    """Gaussian blur (sigma = (1/scale - 1) / 2) then keep every (1/scale)-th pixel."""

    def __init__(self, channels, scale):
        super().__init__()
        sigma = (1 / scale - 1) / 2
        size = 2 * round(sigma * 4) + 1
        self.ka, self.kb = size // 2, size // 2 if size % 2 else size // 2 - 1
        r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
        g = torch.exp(-r ** 2 / (2 * sigma ** 2))
        kernel = g[:, None] * g[None, :]
        self.register_buffer("weight", (kernel / kernel.sum()).expand(channels, 1, size, size).clone())
        self.step = int(1 / scale)

    def forward(self, x):
        x = F.pad(x, (self.ka, self.kb, self.ka, self.kb))
        return F.conv2d(x, self.weight, groups=x.shape[1])[:, :, ::self.step, ::self.step]


# ----------------------------------------------------------------------------- networks


class KeypointDetector(nn.Module):
    """Image -> K keypoints (softmax-weighted mean position of each heat map) and a 2x2 Jacobian
    per keypoint (heat-map-weighted sum of a 4-channel map)."""

    def __init__(self, cfg: FommConfig):
        super().__init__()
        self.cfg = cfg
        self.predictor = Hourglass(cfg.kp_block_expansion, cfg.num_channels, cfg.kp_num_blocks, cfg.kp_max_features)
        self.kp = nn.Conv2d(self.predictor.out_filters, cfg.num_kp, 7)
        if cfg.estimate_jacobian:
            self.jacobian = nn.Conv2d(self.predictor.out_filters, 4 * cfg.num_kp, 7)
        if cfg.kp_scale_factor != 1:
            self.down = AntiAliasDown(cfg.num_channels, cfg.kp_scale_factor)

    def forward(self, x: torch.Tensor) -> dict:
        if self.cfg.kp_scale_factor != 1:
            x = self.down(x)
        feats = self.predictor(x)
        logits = self.kp(feats)                                              # (B, K, h, w)
        b, k, h, w = logits.shape
        heat = F.softmax(logits.view(b, k, -1) / self.cfg.kp_temperature, dim=2).view(b, k, h, w)
        out = {"value": (heat[..., None] * coordinate_grid(h, w, heat)).sum((2, 3))}   # (B, K, 2)
        if self.cfg.estimate_jacobian:
            jac = self.jacobian(feats).view(b, k, 4, h, w)
            out["jacobian"] = (heat[:, :, None] * jac).sum((3, 4)).view(b, k, 2, 2)
        return out


class DenseMotion(nn.Module):
    """Keypoints of the source and the driving frame -> a dense backward flow (B, h, w, 2): a
    per-pixel softmax mixture of K + 1 local motions (each keypoint's first-order Taylor
    approximation, and the identity for the background), and an occlusion map (B, 1, h, w)."""

    def __init__(self, cfg: FommConfig):
        super().__init__()
        self.cfg = cfg
        k, c = cfg.num_kp, cfg.num_channels
        self.hourglass = Hourglass(cfg.dm_block_expansion, (k + 1) * (c + 1), cfg.dm_num_blocks, cfg.dm_max_features)
        self.mask = nn.Conv2d(self.hourglass.out_filters, k + 1, 7, padding=3)
        if cfg.estimate_occlusion_map:
            self.occlusion = nn.Conv2d(self.hourglass.out_filters, 1, 7, padding=3)
        if cfg.dm_scale_factor != 1:
            self.down = AntiAliasDown(c, cfg.dm_scale_factor)

    def sparse_motions(self, h, w, kp_source, kp_driving) -> torch.Tensor:
        """(B, K + 1, h, w, 2): T_{s<-d}(z) = kp_s + J_s J_d^-1 (z - kp_d) per keypoint, identity first."""
        grid = coordinate_grid(h, w, kp_source["value"])                     # (h, w, 2)
        z = grid[None, None] - kp_driving["value"][:, :, None, None, :]      # (B, K, h, w, 2)
        if "jacobian" in kp_driving:
            jac = kp_source["jacobian"] @ torch.inverse(kp_driving["jacobian"])   # (B, K, 2, 2)
            z = (jac[:, :, None, None] @ z[..., None])[..., 0]
        motions = z + kp_source["value"][:, :, None, None, :]
        identity = grid[None, None].expand(motions.shape[0], 1, h, w, 2)
        return torch.cat([identity, motions], 1)

    def forward(self, source, kp_source, kp_driving) -> dict:
        if self.cfg.dm_scale_factor != 1:
            source = self.down(source)
        b, c, h, w = source.shape
        k = self.cfg.num_kp
        heat = gaussians(kp_driving["value"], h, w, self.cfg.kp_variance) - gaussians(kp_source["value"], h, w,
                                                                                     self.cfg.kp_variance)
        heat = torch.cat([heat.new_zeros(b, 1, h, w), heat], 1)[:, :, None]  # (B, K+1, 1, h, w)
        motions = self.sparse_motions(h, w, kp_source, kp_driving)           # (B, K+1, h, w, 2)
        repeated = source[:, None].expand(b, k + 1, c, h, w).reshape(b * (k + 1), c, h, w)
        deformed = F.grid_sample(repeated, motions.reshape(b * (k + 1), h, w, 2),
                                 align_corners=False).view(b, k + 1, c, h, w)
        pred = self.hourglass(torch.cat([heat, deformed], 2).view(b, -1, h, w))
        mask = F.softmax(self.mask(pred), dim=1)                             # (B, K+1, h, w)
        flow = (motions * mask[..., None]).sum(1)                            # (B, h, w, 2)
        out = {"mask": mask, "deformation": flow, "sparse_deformed": deformed}
        if self.cfg.estimate_occlusion_map:
            out["occlusion_map"] = torch.sigmoid(self.occlusion(pred))
        return out


def deform(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward-warp x (B, C, H, W) by a flow (B, h, w, 2) resized bilinearly to H x W."""
    if flow.shape[1:3] != x.shape[2:]:
        flow = F.interpolate(flow.permute(0, 3, 1, 2), size=x.shape[2:], mode="bilinear").permute(0, 2, 3, 1)
    return F.grid_sample(x, flow, align_corners=False)


class Generator(nn.Module):
    """Encode the source, warp its features by the dense motion, mask occluded parts, decode."""

    def __init__(self, cfg: FommConfig):
        super().__init__()
        self.cfg = cfg
        e, m, n = cfg.block_expansion, cfg.max_features, cfg.num_down_blocks
        self.dense_motion_network = DenseMotion(cfg)
        self.first = ConvNorm(cfg.num_channels, e, 7, 3)
        self.down_blocks = nn.ModuleList(Down(min(m, e * 2 ** i), min(m, e * 2 ** (i + 1))) for i in range(n))
        self.up_blocks = nn.ModuleList(Up(min(m, e * 2 ** (n - i)), min(m, e * 2 ** (n - i - 1))) for i in range(n))
        self.bottleneck = nn.Sequential()
        for i in range(cfg.num_bottleneck_blocks):
            self.bottleneck.add_module(f"r{i}", Res(min(m, e * 2 ** n)))
        self.final = nn.Conv2d(e, cfg.num_channels, 7, padding=3)

    def forward(self, source, kp_source, kp_driving) -> dict:
        out = self.first(source)
        for block in self.down_blocks:
            out = block(out)
        motion = self.dense_motion_network(source, kp_source, kp_driving)
        out = deform(out, motion["deformation"])
        if "occlusion_map" in motion:
            occ = motion["occlusion_map"]
            if occ.shape[2:] != out.shape[2:]:
                occ = F.interpolate(occ, size=out.shape[2:], mode="bilinear")
            out = out * occ
        out = self.bottleneck(out)
        for block in self.up_blocks:
            out = block(out)
        return {"prediction": torch.sigmoid(self.final(out)), "deformed": deform(source, motion["deformation"]),
                **{k: motion[k] for k in ("mask", "occlusion_map") if k in motion}}
