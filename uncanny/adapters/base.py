"""The interface every architecture adapter implements (see the package docstring)."""

from __future__ import annotations

import copy
import hashlib

import torch
from torch import nn

W_AVG_SAMPLES, W_AVG_SEED = 4096, 0   # the mean W when a checkpoint does not ship one


class GAN:
    """A loaded generator G (and discriminator D, or None) with the architecture's conventions.

    Latent kinds: "z" (the input), "w" (one mapped latent for every layer) and "w+" (one per
    layer, `num_ws` of them). Architectures without a mapping network have only "z"."""

    arch = ""
    latent_kinds: tuple[str, ...] = ("z",)

    def __init__(self, G: nn.Module, D: nn.Module | None, w_avg: torch.Tensor | None, config: dict,
                 header: dict, path: str, which: str = "g_ema"):
        self.G, self.D, self.w_avg = G, D, w_avg
        self.config, self.header, self.path, self.which = config, header, path, which

    # ---- construction

    @classmethod
    def build(cls, config: dict) -> tuple[nn.Module, nn.Module]:
        """Fresh (G, D) for a config dict."""
        raise NotImplementedError

    def with_generator(self, G: nn.Module) -> "GAN":
        """The same adapter around another generator of the same architecture (a snapshot)."""
        other = copy.copy(self)
        other.G = G
        return other

    # ---- sizes

    @property
    def device(self) -> torch.device:
        return next(self.G.parameters()).device

    @property
    def z_dim(self) -> int:
        return self.G.style_dim          # StyleGAN 1 and 2; the DCGAN overrides it

    @property
    def size(self) -> int:
        return int(self.config.get("size", self.config.get("stage", 64)))

    @property
    def num_ws(self) -> int:
        return 1

    # ---- latents -> images

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        """(B, z_dim) -> (B, w_dim). Without a mapping network, W is z."""
        return z

    def generate(self, z: torch.Tensor, truncation: float = 1.0, noise: list | None = None) -> torch.Tensor:
        """Images (B, 3, H, W) in about [-1, 1] from latents z (B, z_dim), with the generator's
        fixed noise (unless `noise` is given), so the same z always gives the same image."""
        raise NotImplementedError

    def train_images(self, z: torch.Tensor) -> torch.Tensor:
        """Images for a training step: fresh random noise inputs where the architecture has them."""
        return self.generate(z)

    def synthesize(self, kind: str, latent: torch.Tensor, noise: list | None = None) -> torch.Tensor:
        """Images from a latent of `kind` ("z", "w" (B, D) or "w+" (B, num_ws, D))."""
        if kind != "z":
            raise ValueError(f"{self.arch} has no {kind} latent")
        return self.generate(latent, noise=noise)

    def make_noise(self, device=None) -> list[torch.Tensor]:
        """Fresh random noise maps, one per noise input (none for architectures without)."""
        return []

    # ---- statistics of W

    @torch.no_grad()
    def estimate_w_avg(self, n: int = W_AVG_SAMPLES, seed: int = W_AVG_SEED) -> torch.Tensor | None:
        """Mean W of n seeded latents (None without a mapping network). Used only when the
        checkpoint does not ship its own w_avg."""
        if "w" not in self.latent_kinds:
            return None
        z = torch.randn(n, self.z_dim, generator=torch.Generator().manual_seed(seed)).to(self.device)
        return torch.cat([self.mapping(b) for b in z.split(1024)]).mean(0, keepdim=True)

    @torch.no_grad()
    def w_spread(self, n: int = 10000, seed: int = 123) -> float:
        """RMS distance of mapped latents from the mean W (projection scales its noise by it);
        for z, the expected norm of a standard normal vector."""
        if "w" not in self.latent_kinds:
            return float(self.z_dim) ** 0.5
        z = torch.randn(n, self.z_dim, generator=torch.Generator().manual_seed(seed)).to(self.device)
        w = torch.cat([self.mapping(b) for b in z.split(1000)])
        return float(((w - self.w_avg) ** 2).sum(1).mean().sqrt())

    def fingerprint(self) -> str:
        """Identifies this generator's weights (directions and calibrations are tied to it)."""
        h = hashlib.sha256(self.arch.encode())
        for p in list(self.G.parameters())[:6]:
            h.update(p.detach().float().cpu().numpy().tobytes())
        return h.hexdigest()[:16]

    # ---- what editing and projection read from the networks

    def style_weights(self) -> list[tuple[int, str, torch.Tensor]]:
        """(W+ index, layer name, matrix (out, w_dim)) of every layer that reads a style, with
        its run-time scale applied: the weights SeFa factorises. Empty without styles."""
        return []

    def d_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """D's intermediate activations, one per resolution (for feature losses)."""
        return []
