"""StyleGAN2 (nets.stylegan2, rosinality's layout) behind the GAN interface."""

from __future__ import annotations

import torch

from ..nets import stylegan2 as S2
from .base import GAN


class StyleGAN2(GAN):
    arch = "stylegan2"
    latent_kinds = ("z", "w", "w+")

    @classmethod
    def build(cls, config: dict):
        c = S2.StyleGAN2Config(**config)
        G = S2.Generator(c.size, c.style_dim, c.n_mlp, c.channel_multiplier, lr_mlp=c.lr_mlp,
                         channel_max=c.g_max, channel_base=c.channel_base)
        D = S2.Discriminator(c.size, c.channel_multiplier, channel_max=c.channel_max, channel_base=c.channel_base,
                             mbstd_group=c.mbstd_group)
        return G, D

    @property
    def num_ws(self) -> int:
        return self.G.n_latent

    def mapping(self, z):
        return self.G.style(z)

    def generate(self, z, truncation=1.0, noise=None):
        if truncation != 1 and self.w_avg is None:
            raise ValueError("truncation other than 1 needs w_avg (the mean W latent)")
        img, _ = self.G([z], truncation=truncation, truncation_latent=self.w_avg, noise=noise,
                        randomize_noise=False)
        return img

    def train_images(self, z):
        return self.G([z], randomize_noise=True)[0]

    def synthesize(self, kind, latent, noise=None):
        if kind == "z":
            return self.generate(latent, noise=noise)
        img, _ = self.G([latent], input_is_latent=True, noise=noise or None, randomize_noise=False)
        return img

    def make_noise(self, device=None):
        return self.G.make_noise(device or self.device)

    def style_weights(self):
        G = self.G
        layers = [(0, "conv1", G.conv1.conv), (1, "to_rgb1", G.to_rgb1.conv)]
        for k, to_rgb in enumerate(G.to_rgbs):
            layers += [(1 + 2 * k, f"convs.{2 * k}", G.convs[2 * k].conv),
                       (2 + 2 * k, f"convs.{2 * k + 1}", G.convs[2 * k + 1].conv),
                       (3 + 2 * k, f"to_rgbs.{k}", to_rgb.conv)]
        return [(i, name, (conv.modulation.weight * conv.modulation.scale).detach()) for i, name, conv in layers]

    def d_features(self, x):
        return self.D.features(x)


def zero_noise(gan: StyleGAN2) -> list[torch.Tensor]:
    """Noise maps of zeros: images from the styles alone."""
    return [torch.zeros_like(t) for t in gan.make_noise()]
