"""Measures shared by foil, train and `uncanny measure`.

    diversity(imgs)       mean pairwise RMS distance between images in [0, 1] (0 = all identical)
    sameness(imgs)        mean pairwise correlation of the images' 8x8 thumbnails (1 = one layout)
    mean_colour(imgs)     mean R, G, B in [0, 1]
    face_rate(imgs)       fraction in which dlib's HOG detector finds a face (4x upscaled):
                          human-likeness judged by an instrument that is not the GAN's own D
    frechet(a, b)         Frechet distance between two sets of feature vectors
"""

from __future__ import annotations

import numpy as np
import torch


def _unit(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [-1, 1] -> float64 (N, 3*H*W) in [0, 1]; non-finite values -> 0."""
    x = torch.nan_to_num(images.detach().double(), nan=-1.0, posinf=1.0, neginf=-1.0)
    return ((x.clamp(-1, 1) + 1) / 2).flatten(1)


def diversity(images: torch.Tensor) -> float:
    x = _unit(images)
    n = x.shape[0]
    if n < 2:
        return 0.0
    d = torch.cdist(x, x) / x.shape[1] ** 0.5
    return float(d.sum() / (n * (n - 1)))


def sameness(images: torch.Tensor, size: int = 8) -> float:
    """Mean pairwise correlation of the images' size x size thumbnails (area-averaged, each
    centred and scaled over its own pixels and channels): near 0 for unrelated layouts (faces
    start at about 0.2), 1 when every image shows one layout. Unlike `diversity` it sees a
    collapse into one high-contrast pattern drawn at slightly different places, which pixel
    distances call diverse. Constant images count as uncorrelated."""
    x = _unit(images).view(images.shape)
    n = x.shape[0]
    if n < 2:
        return 1.0
    t = torch.nn.functional.adaptive_avg_pool2d(x, size).flatten(1)   # (N, 3*size*size)
    t = t - t.mean(1, keepdim=True)
    t = t / t.norm(dim=1, keepdim=True).clamp_min(1e-6)
    c = t @ t.T
    return float((c.sum() - c.diagonal().sum()) / (n * (n - 1)))


def mean_colour(images: torch.Tensor) -> tuple[float, float, float]:
    x = torch.nan_to_num(images.detach().double(), nan=-1.0).clamp(-1, 1)
    m = ((x + 1) / 2).mean(dim=(0, 2, 3))
    return float(m[0]), float(m[1]), float(m[2])


def face_rate(images: torch.Tensor | np.ndarray, upscale: int = 4) -> float:
    from .faces import detection_rate
    from .media import to_uint8
    arr = to_uint8(images) if torch.is_tensor(images) else images
    return detection_rate(arr, upscale=upscale)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance ||mu_a - mu_b||^2 + Tr(Ca + Cb - 2 (Ca Cb)^1/2) of two (N, D) sets."""
    from scipy import linalg
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    mu1, mu2 = a.mean(0), b.mean(0)
    c1, c2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(c1 @ c2)
    if not np.isfinite(covmean).all():
        eps = np.eye(c1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((c1 + eps) @ (c2 + eps))
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.trace(covmean))


def frechet_parts(a: np.ndarray, b: np.ndarray) -> dict:
    """What a Frechet distance of samples `a` to real `b` is made of: `mean_term` ||mu_a - mu_b||^2
    (a shifted average face) and `spread` Tr(Ca) / Tr(Cb), the share of the real set's variance the
    samples reach (below 1: less varied than the real set; the rest of the distance is that and a
    mismatch of directions)."""
    if len(a) < 2 or len(b) < 2:
        return {"mean_term": float("nan"), "spread": float("nan")}
    tr_b = np.trace(np.cov(b, rowvar=False))
    return {"mean_term": float(((a.mean(0) - b.mean(0)) ** 2).sum()),
            "spread": float(np.trace(np.cov(a, rowvar=False)) / tr_b) if tr_b > 0 else float("nan")}


def main_directions(real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The principal directions of a (N, D) set, largest variance first: (variances (D,),
    directions (D, D) as columns). The "main directions" the spread plot and the FD's anatomy use."""
    var, vec = np.linalg.eigh(np.cov(real, rowvar=False))   # ascending
    order = np.argsort(var)[::-1]
    return var[order], vec[:, order]


def param_distance(model: torch.nn.Module, start: list[torch.Tensor]) -> float:
    """L2 distance of the model's parameters from a saved starting copy."""
    with torch.no_grad():
        total = sum(float((p.double() - s.double()).pow(2).sum()) for p, s in zip(model.parameters(), start))
    return total ** 0.5
