"""Latent files: a projected (or chosen) latent with its noise maps, as written by
`uncanny project` and read by `render` (and `edit`).

    lat = Latent("w", w, noises)                   # kind "z", "w" (1, D) or "w+" (1, num_ws, D)
    lat.save("latent.npz", {"model": ..., "arch": "stylegan2"})
    lat, meta = load_latent("latent.npz")
    img = synthesize(gan, lat)                     # (1, 3, H, W)

The file is a NumPy .npz without pickles: `latent`, `noise_0` ... `noise_K`, and `meta` (JSON
text, with `kind`).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np
import torch

from .errors import UncannyError
from .util import atomic_write_bytes

KINDS = ("z", "w", "w+")


@dataclass
class Latent:
    kind: str                      # "z", "w" or "w+"
    value: torch.Tensor            # (1, D) or (1, num_ws, D)
    noises: list[torch.Tensor]

    def save(self, path: str, meta: dict) -> None:
        arrays = {"latent": self.value.detach().cpu().numpy()}
        arrays.update({f"noise_{i}": n.detach().cpu().numpy() for i, n in enumerate(self.noises)})
        buf = io.BytesIO()
        np.savez(buf, **arrays, meta=np.array(json.dumps(dict(meta, kind=self.kind))))
        atomic_write_bytes(path, buf.getvalue())

    def to(self, device) -> "Latent":
        return Latent(self.kind, self.value.to(device), [n.to(device) for n in self.noises])


def load_latent(path: str) -> tuple[Latent, dict]:
    """(Latent, meta) from a latent file, or UncannyError naming the file and the problem."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            n_noise = len([k for k in z.files if k.startswith("noise_")])
            noises = [torch.from_numpy(z[f"noise_{i}"]).float() for i in range(n_noise)]
            value = torch.from_numpy(z["latent"]).float()
    except (OSError, KeyError, ValueError, EOFError) as e:
        raise UncannyError(f"{path}: not a latent file written by `uncanny project` ({e})") from None
    if not isinstance(meta, dict) or meta.get("kind") not in KINDS:
        raise UncannyError(f"{path}: latent file without a valid kind (one of {', '.join(KINDS)})")
    if value.ndim != (3 if meta["kind"] == "w+" else 2) or not torch.isfinite(value).all():
        raise UncannyError(f"{path}: latent of shape {tuple(value.shape)} is not a finite {meta['kind']} latent")
    return Latent(meta["kind"], value, noises), meta


def check_fits(gan, lat: Latent) -> None:
    """UncannyError naming what does not fit, if `lat` cannot be rendered by `gan`."""
    if lat.kind not in gan.latent_kinds:
        raise UncannyError(f"{gan.path}: a {gan.arch} generator has no {lat.kind} latent")
    if lat.value.shape[-1] != gan.z_dim:   # W has the width of z in every architecture here
        raise UncannyError(f"{gan.path}: latent has {lat.value.shape[-1]} dimensions, the generator takes "
                           f"{gan.z_dim}")
    if lat.kind == "w+" and lat.value.shape[1] != gan.num_ws:
        raise UncannyError(f"{gan.path}: W+ latent has {lat.value.shape[1]} layers, the generator {gan.num_ws}")
    if lat.noises:
        want = [tuple(n.shape[-2:]) for n in gan.make_noise()]
        if [tuple(n.shape[-2:]) for n in lat.noises] != want:
            raise UncannyError(f"{gan.path}: the latent's noise maps do not fit this generator")


def synthesize(gan, lat: Latent) -> torch.Tensor:
    """Image (B, 3, H, W) of a latent through the GAN's generator (see `check_fits`)."""
    return gan.synthesize(lat.kind, lat.value, lat.noises or None)
