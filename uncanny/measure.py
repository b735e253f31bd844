"""Measure samples (or real images) with instruments that are not the GAN's own D.

    uncanny measure --model faces64 --n 256                     # generated samples
    uncanny measure --folder data/celeba64                      # real images, the same way
    uncanny measure --model faces64 --real data/celeba64        # + Frechet descriptor distance

Reports: the dlib HOG face-detection rate on images upscaled 4x ("human-likeness"), the
Frechet distance between real and generated 128-D dlib face descriptors, and diversity.

    uncanny measure --model M --real data/celeba64 --quality --n 1000 --seed 7000 --out PREFIX

The model card's full check (`quality`): the above against the floor (two halves of the real
set), with what the distance is made of (the squared shift of the mean descriptor, and the spread:
the share of the real descriptors' variance the samples reach); the same with every noise input set
to zero (are the features in the styles, or painted by the noise?); and memorisation: the share of
samples nearer (dlib descriptor) to a training photo than 99% of real photos are to their nearest
other real photo, with the closest pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import faces
from .adapters import load_gan
from .data import load_dataset
from .errors import UncannyError
from .metrics import diversity, frechet, frechet_parts
from .media import from_uint8
from .options import non_negative, option, positive, up_to_two, validate
from .util import resolve_device, seed_z


def generate_uint8(model: str | None, n: int, seed: int = 0, truncation: float = 1.0,
                   device: str | None = None, zero_noise: bool = False) -> np.ndarray:
    """Samples of seeds seed..seed+n-1 as (n, H, W, 3) uint8; `zero_noise` sets every noise
    input of a StyleGAN2 to zero (features that survive come from the styles)."""
    return _samples(load_gan(model, device=resolve_device(device)), n, seed, truncation, zero_noise)


def _samples(gan, n: int, seed: int, truncation: float, zero_noise: bool = False) -> np.ndarray:
    """generate_uint8 on a loaded GAN (quality() draws twice from one load)."""
    from .adapters.stylegan2 import zero_noise as zeros
    from .media import to_uint8
    if truncation > 1 and gan.arch != "stylegan2":
        raise UncannyError(f"{gan.path}: truncation above 1 needs a StyleGAN2, not {gan.arch}")
    if zero_noise and gan.arch != "stylegan2":
        raise UncannyError(f"{gan.path}: zeroing the noise inputs needs a StyleGAN2, not {gan.arch}")
    z = seed_z(range(seed, seed + n), gan.z_dim, gan.device)
    out = []
    with torch.no_grad():
        for b in z.split(32):
            out.append(to_uint8(gan.generate(b, truncation, noise=zeros(gan) if zero_noise else None)))
    return np.concatenate(out)


def nearest(a: np.ndarray, b: np.ndarray, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """For each row of a: (distance to, index of) its nearest row of b (Euclidean)."""
    d = np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1), 0))
    if exclude_self:
        np.fill_diagonal(d, np.inf)
    idx = d.argmin(1)
    return d[np.arange(len(a)), idx], idx


def memorisation(sample_desc: np.ndarray, real_desc: np.ndarray, percentile: float = 1.0) -> dict:
    """Share of samples nearer to a real (training) image than `100 - percentile`% of real images
    are to their nearest other real image; the threshold is that real-to-real distance."""
    real_nn, _ = nearest(real_desc, real_desc, exclude_self=True)
    threshold = float(np.percentile(real_nn, percentile))
    dist, idx = nearest(sample_desc, real_desc)
    return {"threshold": threshold, "share": float((dist < threshold).mean()) if len(dist) else float("nan"),
            "distances": dist, "nearest_real": idx, "real_nn_median": float(np.median(real_nn))}


def quality(model: str | None, real: str, n: int = 1000, seed: int = 7000, device: str | None = None,
            show_progress: bool = True, truncation: float = 1.0) -> dict:
    """The model card's measurements (see the module docstring). Returns numbers plus, under
    "pairs", the 8 samples closest to a training image as (sample uint8, real uint8, distance), and
    under "beside", (the first 64 samples, 64 training photos drawn at random, a caption) and under
    "spread", (the real descriptors, the samples' descriptors)."""
    from .util import progress
    real_imgs = load_dataset(real)
    bar = progress(total=3, desc="quality", disable=not show_progress)   # the floor, the samples, zeroed
    real_desc, real_keep = faces.descriptors_with_index(real_imgs)   # descriptor j is of real_imgs[real_keep[j]]
    half = len(real_desc) // 2                                          # the floor: two disjoint halves
    perm = np.random.RandomState(0).permutation(len(real_desc))
    floor = frechet(real_desc[perm[:half]], real_desc[perm[half:2 * half]])
    bar.update()
    out = {"n": n, "seeds": f"{seed}-{seed + n - 1}", "truncation": truncation, "real_images": len(real_imgs),
           "real_faces": len(real_desc), "floor": floor}
    gan = load_gan(model, device=resolve_device(device))
    imgs = _samples(gan, n, seed, truncation)
    desc, keep = faces.descriptors_with_index(imgs)
    zero_imgs = _samples(gan, n, seed, truncation, zero_noise=True)
    same = bool(np.array_equal(zero_imgs, imgs))   # noise strengths at zero: the same images, described once
    zero_desc, zero_keep = (desc, keep) if same else faces.descriptors_with_index(zero_imgs)
    for key, (im, d, k) in (("samples", (imgs, desc, keep)), ("zero_noise", (zero_imgs, zero_desc, zero_keep))):
        fd = frechet(d, real_desc)
        out[key] = {"face_rate": len(k) / n, "frechet_descriptor": fd, "x_floor": fd / floor,
                    **{f"descriptor_{part}": v for part, v in frechet_parts(d, real_desc).items()},
                    "diversity": diversity(from_uint8(im[:256]))}
        bar.update()
    out["zero_noise"]["same_images"] = same
    mem = memorisation(desc, real_desc)
    out["memorisation"] = {k: mem[k] for k in ("threshold", "share", "real_nn_median")}
    order = np.argsort(mem["distances"])[:8]
    pairs = [(imgs[keep[i]], real_imgs[real_keep[mem["nearest_real"][i]]], float(mem["distances"][i])) for i in order]
    bar.close()
    out["pairs"] = pairs
    # the first 64 samples beside 64 training photos drawn at random (fixed draw): the README's figure
    show = np.sort(np.random.RandomState(1).choice(len(real_imgs), min(64, len(real_imgs)), replace=False))
    caption = f"samples, seeds {seed}-{seed + min(n, 64) - 1}" + (f", psi {truncation:g}" if truncation != 1 else "")
    out["beside"] = (imgs[:64], real_imgs[show], caption)
    out["spread"] = (real_desc, desc)   # the descriptors, drawn along the real set's main directions
    return out


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


@dataclass
class MeasureConfig:
    model: str | None = option(None, "checkpoint or embedded model (default: the default model)")
    folder: str | None = option(None, "a prepared dataset of real images to measure instead of samples")
    real: str | None = option(None, "prepared real dataset for the Frechet descriptor distance")
    n: int = option(256, "images to measure", check=positive)
    seed: int = option(0, "first sample seed", check=non_negative)
    truncation: float = option(1.0, "truncation psi; above 1 (StyleGAN2 only) pushes w away from the mean: with "
                               "--quality, a check of whether the samples are too alike", check=up_to_two)
    floor: bool = option(False, "with --folder: real-vs-real, two disjoint halves of the dataset (up to --n each)")
    quality: bool = option(False, "the model card's check (needs --real): Frechet distance as a multiple of the "
                                  "real-vs-real floor, the same with every noise input zeroed, memorisation "
                                  "(use --n 1000 --seed 7000 for the card's protocol)")
    out: str | None = option(None, "with --quality: write OUT.json, OUT-pairs.png (the 8 samples closest to a "
                                   "training photo, each above it), OUT-beside.png (64 samples beside 64 "
                                   "training photos) and OUT-spread.png (the descriptors' spread against the photos')")
    json: bool = option(False, "print JSON")
    device: str | None = option(None, "cpu, cuda, cuda:1 (default: cuda if available)")


def pairs_image(pairs) -> np.ndarray:
    """quality()'s closest pairs as one picture: each sample above its nearest training photo,
    enlarged 2x, with the descriptor distance under it."""
    from .media import grid, label, upscale
    cols = [label(np.concatenate([upscale(s, 2), upscale(r, 2)], 0), f"{d:.3f}", height=14) for s, r, d in pairs]
    return grid(np.stack(cols), ncol=len(cols))


def beside_image(samples: np.ndarray, reals: np.ndarray, caption: str = "samples") -> np.ndarray:
    """Two 8-column grids side by side, each under its caption: samples left, real photos right."""
    from .media import grid, label
    left, right = grid(samples, ncol=8), grid(reals, ncol=8)
    h = max(left.shape[0], right.shape[0])
    left, right = (np.pad(x, ((0, h - x.shape[0]), (0, 0), (0, 0)), constant_values=255) for x in (left, right))
    gap = np.full((h, 16, 3), 255, np.uint8)
    return np.concatenate([label(left, caption), label(gap, ""), label(right, "real training photos")], 1)


PICTURES = ("pairs", "beside", "spread")    # quality()'s entries that are pictures, not numbers


def write_quality(q: dict, prefix: str, model: str | None = None) -> dict:
    """Write quality()'s numbers to PREFIX.json, its closest pairs to PREFIX-pairs.png, 64
    samples beside 64 real photos to PREFIX-beside.png and the descriptors' spread against the
    photos' to PREFIX-spread.png (atomically); returns the numbers."""
    import json
    import os

    from .media import save_png
    from .util import atomic_write_text
    numbers = {k: v for k, v in q.items() if k not in PICTURES}
    numbers["model"] = model
    folder = os.path.dirname(os.path.abspath(prefix))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise UncannyError(f"{folder}: cannot make the output folder ({e.strerror})") from None
    atomic_write_text(prefix + ".json", json.dumps(numbers, indent=1))
    if q["pairs"]:
        save_png(prefix + "-pairs.png", pairs_image(q["pairs"]))
    save_png(prefix + "-beside.png", beside_image(*q["beside"]))
    if len(q["spread"][1]) >= 2:
        from .plots import plot_descriptor_spread
        plot_descriptor_spread(*q["spread"], prefix + "-spread.png",
                               f"{os.path.basename(model) if model else 'samples'}: dlib descriptors along the real photos' main directions")
    return numbers


def measure(cfg: MeasureConfig) -> dict:
    """The metrics of `uncanny measure` (see the module docstring)."""
    validate(cfg)
    if cfg.model is not None and cfg.folder is not None:
        raise UncannyError("--model and --folder: give one of them")
    if cfg.out is not None and not cfg.quality:
        raise UncannyError("--out: only --quality writes files")
    if cfg.quality:
        if cfg.folder is not None or cfg.floor or not cfg.real:
            raise UncannyError("--quality measures a model's samples against --real (a prepared dataset); "
                               "--folder and --floor do not apply")
        q = quality(cfg.model, cfg.real, cfg.n, cfg.seed, cfg.device, show_progress=not cfg.json,
                    truncation=cfg.truncation)
        if cfg.out:
            return write_quality(q, cfg.out, cfg.model)
        return {k: v for k, v in q.items() if k not in PICTURES}
    if cfg.floor:
        if not cfg.folder:
            raise UncannyError("--floor needs --folder (a prepared dataset to split in two)")
        return real_floor(cfg.folder, cfg.n, cfg.seed)
    if cfg.folder is not None:
        images = load_dataset(cfg.folder)[:cfg.n]
    else:
        images = generate_uint8(cfg.model, cfg.n, cfg.seed, cfg.truncation, cfg.device)
    ref = load_dataset(cfg.real) if cfg.real else None
    return measure_images(images, ref)
