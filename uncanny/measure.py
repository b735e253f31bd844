"""Measure samples (or real images) with instruments that are not the GAN's own D.

    uncanny measure --model faces64 --n 256                     # generated samples
    uncanny measure --folder data/celeba64                      # real images, the same way
    uncanny measure --model faces64 --real data/celeba64        # + Frechet descriptor distance

Reports: the dlib HOG face-detection rate on images upscaled 4x ("human-likeness"), the
Frechet distance between real and generated 128-D dlib face descriptors, and diversity.
"""

from __future__ import annotations

import numpy as np
import torch

from . import faces
from .checkpoint import load_gan
from .data import load_dataset
from .measures import diversity, frechet
from .errors import UncannyError
from .media import from_uint8
from .util import resolve_device, seed_z


def generate_uint8(model: str | None, n: int, seed: int = 0, truncation: float = 1.0,
                   device: str | None = None) -> np.ndarray:
    from .media import to_uint8
    dev = resolve_device(device)
    gan = load_gan(model, device=dev)
    z = seed_z(range(seed, seed + n), gan.z_dim, dev)
    with torch.no_grad():
        return np.concatenate([to_uint8(gan.generate(b, truncation)) for b in z.split(32)])


def measure_images(images: np.ndarray, real: np.ndarray | None = None, upscale: int = 4,
                   show_progress: bool = False) -> dict:
    """Metrics of (N, H, W, 3) uint8 images; with `real`, the Frechet descriptor distance too."""
    if len(images) == 0:
        raise UncannyError("no images to measure")
    x = from_uint8(images)
    out = {"n": int(len(images)), "face_rate": faces.detection_rate(images, upscale, show_progress=show_progress),
           "diversity": diversity(x[:256])}
    if real is not None:
        da = faces.descriptors(images, upscale)
        db = faces.descriptors(real, upscale)
        out.update(frechet_descriptor=frechet(da, db), descriptors_generated=len(da), descriptors_real=len(db))
    return out


def real_floor(folder: str, n: int = 500, seed: int = 0) -> dict:
    """The same metrics for real images against other real images: two disjoint random halves
    of a prepared dataset (n images each at most). The floor a generator can hope to reach."""
    images = load_dataset(folder)
    idx = np.random.RandomState(seed).permutation(len(images))
    half = min(n, len(images) // 2)
    if half < 2:
        raise UncannyError(f"{folder}: too few images for a real-vs-real split")
    return measure_images(images[idx[:half]], images[idx[half:2 * half]])


def measure(model: str | None = None, folder: str | None = None, real: str | None = None, n: int = 256,
            seed: int = 0, truncation: float = 1.0, device: str | None = None, floor: bool = False) -> dict:
    if n <= 0:
        raise UncannyError(f"--n {n}: must be positive")
    if floor:
        if not folder:
            raise UncannyError("--floor needs --folder (a prepared dataset to split in two)")
        return real_floor(folder, n, seed)
    if folder is not None:
        images = load_dataset(folder)[:n]
    else:
        images = generate_uint8(model, n, seed, truncation, device)
    ref = load_dataset(real) if real else None
    return measure_images(images, ref)
