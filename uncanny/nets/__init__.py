"""Networks and the one calling convention the verbs use.

    G, D = build("stylegan2", {"size": 64, "style_dim": 256, "channel_max": 128})
    img = generate(G, z, truncation=0.7, w_avg=w_avg)      # (B, 3, H, W) in about [-1, 1]
"""

from __future__ import annotations

import torch

from . import dcgan, stylegan1, stylegan2

ARCHS = ("stylegan2", "stylegan1", "dcgan")


def build(arch: str, config: dict):
    """Fresh (G, D) for an architecture name and its config dict."""
    if arch == "stylegan2":
        c = stylegan2.StyleGAN2Config(**config)
        G = stylegan2.Generator(c.size, c.style_dim, c.n_mlp, c.channel_multiplier,
                                lr_mlp=c.lr_mlp, channel_max=c.channel_max, channel_base=c.channel_base)
        D = stylegan2.Discriminator(c.size, c.channel_multiplier, channel_max=c.channel_max,
                                    channel_base=c.channel_base)
        return G, D
    if arch == "stylegan1":
        c = dict(config)
        G = stylegan1.StyledGenerator(c["code_dim"], c.get("n_mlp", 8), c["stage"], fused=c.get("fused", True))
        D = stylegan1.Discriminator(c.get("fused", True), c.get("from_rgb_activate", True), c["stage"])
        return G, D
    if arch == "dcgan":
        c = dcgan.DCGANConfig(**config)
        return dcgan.Generator(c.nz, c.ngf, c.nc), dcgan.Discriminator(c.ndf, c.nc)
    raise ValueError(f"unknown architecture {arch!r} (known: {', '.join(ARCHS)})")


def z_dim(G) -> int:
    return G.style_dim if isinstance(G, (stylegan2.Generator, stylegan1.StyledGenerator)) else G.nz


def generate(G, z: torch.Tensor, truncation: float = 1.0, w_avg: torch.Tensor | None = None,
             noise: list | None = None) -> torch.Tensor:
    """Images (B, 3, H, W) from latents z (B, z_dim). StyleGAN2 uses its fixed noise buffers
    unless `noise` is given, so the same z always gives the same image."""
    if isinstance(G, stylegan2.Generator):
        if truncation < 1 and w_avg is None:
            raise ValueError("truncation < 1 needs w_avg (the mean W latent)")
        img, _ = G([z], truncation=truncation, truncation_latent=w_avg, noise=noise,
                   randomize_noise=False)
        return img
    if isinstance(G, stylegan1.StyledGenerator):
        if noise is None:  # fixed noise maps, shared by the batch, so a seed always gives one image
            g = torch.Generator().manual_seed(0)
            noise = [torch.randn(1, 1, 4 * 2 ** i, 4 * 2 ** i, generator=g).to(z.device).expand(z.shape[0], -1, -1, -1)
                     for i in range(G.step + 1)]
        if truncation < 1 and w_avg is None:
            raise ValueError("truncation < 1 needs w_avg (the mean style)")
        return G(z, noise=noise, mean_style=w_avg if truncation < 1 else None, style_weight=truncation)
    return G(z)
