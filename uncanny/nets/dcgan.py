"""The DCGAN of the `gan-face-generate` package (PyTorch tutorial layout), 64x64.

Its `weights.tar` holds `netG_state_dict`, which loads into `Generator()` unchanged. The
package ships no discriminator; `Discriminator()` is the matching architecture (keys
`main.*`) without the tutorial's final Sigmoid: it returns a logit.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass
class DCGANConfig:
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    nc: int = 3
    size: int = 64

    def __post_init__(self):
        for name in ("nz", "ngf", "ndf", "nc"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 4096:
                raise ValueError(f"{name} must be a whole number from 1 to 4096, got {v!r}")
        if self.size != 64:
            raise ValueError(f"this DCGAN makes 64 px images, not {self.size!r}")



class Generator(nn.Module):
    """z (B, nz) or (B, nz, 1, 1) -> image (B, 3, 64, 64) in [-1, 1]."""

    def __init__(self, nz=100, ngf=64, nc=3):
        super().__init__()
        self.nz = nz

        def up(cin, cout):
            return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),  # 4x4
            *up(ngf * 8, ngf * 4),  # 8x8
            *up(ngf * 4, ngf * 2),  # 16x16
            *up(ngf * 2, ngf),      # 32x32
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),  # 64x64
        )

    def forward(self, z):
        return self.main(z.view(z.shape[0], self.nz, 1, 1))


class Discriminator(nn.Module):
    """image (B, 3, 64, 64) -> logit (B, 1)."""

    def __init__(self, ndf=64, nc=3):
        super().__init__()

        def down(cin, cout):
            return [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True)]

        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),  # 32
            *down(ndf, ndf * 2), *down(ndf * 2, ndf * 4), *down(ndf * 4, ndf * 8),   # 16, 8, 4
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
        )

    def forward(self, x):
        return self.main(x).view(x.shape[0], 1)
