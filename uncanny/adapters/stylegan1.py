"""StyleGAN 1 (nets.stylegan1, rosinality's progressive layout; the paper's network) behind
the GAN interface. The resolution is the checkpoint config's `stage`."""

from __future__ import annotations

import torch

from ..nets import stylegan1 as S1
from .base import GAN

NOISE_SEED = 0   # the fixed noise maps shared by every sample


class StyleGAN1(GAN):
    arch = "stylegan1"
    latent_kinds = ("z", "w", "w+")

    @classmethod
    def build(cls, config: dict):
        c = dict(config)
        for name, hi in (("code_dim", 4096), ("n_mlp", 64), ("stage", 1024)):
            v = c.get(name, 8 if name == "n_mlp" else None)
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= hi:
                raise ValueError(f"{name} must be a whole number from 1 to {hi}, got {v!r}")
        G = S1.StyledGenerator(c["code_dim"], c.get("n_mlp", 8), c["stage"], fused=c.get("fused", True))
        D = S1.Discriminator(c.get("fused", True), c.get("from_rgb_activate", True), c["stage"])
        return G, D

    @property
    def num_ws(self) -> int:
        return self.G.step + 1   # one style per resolution block up to the stage

    def mapping(self, z):
        return self.G.style(z)

    def _fixed_noise(self, batch):
        g = torch.Generator().manual_seed(NOISE_SEED)
        return [torch.randn(1, 1, 4 * 2 ** i, 4 * 2 ** i, generator=g).to(self.device).expand(batch, -1, -1, -1)
                for i in range(self.G.step + 1)]

    def generate(self, z, truncation=1.0, noise=None):
        if truncation < 1 and self.w_avg is None:
            raise ValueError("truncation < 1 needs w_avg (the mean style)")
        noise = noise if noise is not None else self._fixed_noise(z.shape[0])
        return self.G(z, noise=noise, mean_style=self.w_avg if truncation < 1 else None, style_weight=truncation)

    def train_images(self, z):
        return self.G(z)   # fresh noise maps

    def synthesize(self, kind, latent, noise=None):
        if kind == "z":
            return self.generate(latent, noise=noise)
        noise = noise if noise is not None else self._fixed_noise(latent.shape[0])
        if kind == "w":
            return self.G.generator([latent], noise, self.G.step, self.G.alpha)
        # W+: block i takes style i (the stage's own resolution, no fade-in from the one below)
        synthesis, out = self.G.generator, noise[0]
        for i in range(self.G.step + 1):
            out = synthesis.progression[i](out, latent[:, i], noise[i])
        return synthesis.to_rgb[self.G.step](out)

    def make_noise(self, device=None):
        return [torch.randn(1, 1, 4 * 2 ** i, 4 * 2 ** i, device=device or self.device) for i in range(self.G.step + 1)]

    def style_weights(self):
        out = []
        for i, block in enumerate(self.G.generator.progression[: self.G.step + 1]):
            for j, adain in enumerate((block.adain1, block.adain2)):
                w = adain.style.linear.weight_orig
                out.append((i, f"progression.{i}.adain{j + 1}", (w * S1._eq_scale(w)).detach()))
        return out
