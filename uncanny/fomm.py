"""Animation with a First Order Motion Model checkpoint the user has (`uncanny animate --fomm
vox-cpk.pth.tar`). Never required: its weights download from outside and are not shipped.

    driver = FommDriver(path, source_img, source_lm, driving_frames, driving_lm)
    frame = driver(t)            # the source image with its face moved by driving frame t

As the paper's demo.py with `--relative --adapt_scale`: keypoints of the source, of the first
driving frame and of each driving frame; each frame's keypoint displacement from the first,
scaled by sqrt(area of the source keypoints' hull / area of the first driving frame's), added to
the source keypoints, and the Jacobians composed likewise. The model works on 256 px square
crops around the face (the driving crop fixed at the first frame, as in the paper's videos);
its output is pasted back into the source image with a feathered border, so the frames keep the
source's framing.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .formats import read_fomm
from .motion import hull, sample

CROP = 256


def polygon_area(points: np.ndarray) -> float:
    """Area of the convex hull of points (N, 2) (shoelace formula)."""
    h = hull(points)
    x, y = h[:, 0], h[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def normalize_kp(kp_source: dict, kp_driving: dict, kp_initial: dict, relative: bool = True,
                 adapt_scale: bool = True) -> dict:
    """The keypoints that drive the source: relative motion (and relative Jacobians), scaled by
    the ratio of the keypoint hulls' sizes when adapt_scale."""
    if not relative:
        return dict(kp_driving)
    scale = 1.0
    if adapt_scale:
        scale = np.sqrt(polygon_area(kp_source["value"][0].cpu().numpy().astype(np.float64))) / \
            np.sqrt(polygon_area(kp_initial["value"][0].cpu().numpy().astype(np.float64)))
    out = {"value": kp_source["value"] + (kp_driving["value"] - kp_initial["value"]) * scale}
    if "jacobian" in kp_driving:
        out["jacobian"] = kp_driving["jacobian"] @ torch.inverse(kp_initial["jacobian"]) @ kp_source["jacobian"]
    return out


def face_box(lm: np.ndarray, scale: float = 1.9) -> tuple[float, float, float]:
    """A square around the face (centre x, centre y, side), `scale` times its landmarks' extent,
    centred a little above their middle (to take in the forehead)."""
    lo, hi = lm.min(0), lm.max(0)
    side = scale * float(max(hi - lo))
    cx, cy = (lo + hi) / 2
    return float(cx), float(cy - 0.1 * side), side


def crop(img: np.ndarray, box: tuple[float, float, float], size: int = CROP) -> np.ndarray:
    """The square `box` of img resampled to size x size (edges repeat outside the image)."""
    cx, cy, side = box
    h, w = img.shape[:2]
    pad = int(np.ceil(side))
    padded = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    x0, y0 = cx - side / 2 + pad, cy - side / 2 + pad
    return np.asarray(Image.fromarray(padded).transform((size, size), Image.EXTENT, (x0, y0, x0 + side, y0 + side),
                                                        Image.BICUBIC))


def paste(img: np.ndarray, patch: np.ndarray, box: tuple[float, float, float], feather: float = 0.08) -> np.ndarray:
    """Put a square patch back where `crop` took it from, blending its outer `feather` share."""
    cx, cy, side = box
    h, w = img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5                   # pixel centres, as PIL's EXTENT
    u, v = (xs - (cx - side / 2)) / side, (ys - (cy - side / 2)) / side       # patch coordinates in [0, 1]
    inside = (u >= 0) & (u < 1) & (v >= 0) & (v < 1)
    edge = np.minimum(np.minimum(u, 1 - u), np.minimum(v, 1 - v))
    alpha = np.clip(edge / feather, 0, 1) * inside
    n = patch.shape[0]
    sampled = sample(patch, torch.from_numpy(np.stack([u * n - 0.5, v * n - 0.5], -1)))   # patch pixel centres
    out = img.astype(np.float32) * (1 - alpha[..., None]) + sampled * alpha[..., None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def to_tensor(img: np.ndarray, device) -> torch.Tensor:
    return torch.tensor(img).permute(2, 0, 1)[None].float().div(255).to(device)


class FommDriver:
    """render(t) -> the source image (H, W, 3) uint8 with its face animated by driving frame t."""

    def __init__(self, path: str, source: np.ndarray, source_lm: np.ndarray, frames: list, driving_lm: np.ndarray,
                 device="cpu"):
        self.kp_detector, self.generator = (m.to(device) for m in read_fomm(path))
        self.device, self.source, self.frames = device, source, frames
        self.box = face_box(source_lm)
        self.driving_box = face_box(driving_lm[0])
        self.src = to_tensor(crop(source, self.box), device)
        with torch.no_grad():
            self.kp_source = self.kp_detector(self.src)
            self.kp_initial = self.kp_detector(to_tensor(crop(frames[0], self.driving_box), device))

    def __call__(self, t: int) -> np.ndarray:
        with torch.no_grad():
            kp = self.kp_detector(to_tensor(crop(self.frames[t], self.driving_box), self.device))
            kp = normalize_kp(self.kp_source, kp, self.kp_initial)
            out = self.generator(self.src, self.kp_source, kp)["prediction"]
        patch = (out[0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().cpu().numpy()
        return paste(self.source, patch, self.box)
