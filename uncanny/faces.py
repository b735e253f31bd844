"""Faces: safe image loading, dlib detection, 68-point landmarks, FFHQ-style alignment and
128-D face descriptors. Used by `data prepare`, `measure` and (later) projection, so every
face this tool sees is aligned the same way.

    img = load_image("photo.jpg")                 # RGB uint8 (H, W, 3), EXIF-rotated
    faces = find_faces(img)                       # largest first, each with 68 landmarks
    crop = align_face(img, faces[0].landmarks, 64)   # (64, 64, 3) uint8, FFHQ framing

dlib's model files come from the `face_recognition_models` package, located with importlib
(no import, no download).
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageFile, ImageFilter, ImageOps

from .errors import UncannyError

MAX_PIXELS = 64_000_000  # decompression-bomb guard: about 8000 x 8000
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}


def load_image(path: str | os.PathLike, min_size: int = 8) -> np.ndarray:
    """Open any common image as RGB uint8 (H, W, 3), or raise UncannyError naming the file.

    Handles EXIF rotation, grayscale / palette / RGBA (composited on white) / CMYK / 16-bit,
    and refuses truncated files and images over MAX_PIXELS pixels.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UncannyError(f"{path}: no such file")
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise UncannyError(f"{path}: image is {w}x{h}, over the {MAX_PIXELS:,}-pixel limit")
                im.load()
                im = ImageOps.exif_transpose(im)
                return _to_rgb_array(im, path, min_size)
    except UncannyError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise UncannyError(f"{path}: image is too large (decompression-bomb guard)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise UncannyError(f"{path}: not a readable image ({e.__class__.__name__}: {e})") from None


def _to_rgb_array(im: Image.Image, path: str, min_size: int) -> np.ndarray:
    if min(im.size) < min_size:
        raise UncannyError(f"{path}: image is only {im.size[0]}x{im.size[1]} pixels")
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit grayscale: rescale to 8 bit
        a = np.asarray(im, dtype=np.float64)
        a = (a - a.min()) / max(a.max() - a.min(), 1e-9) * 255
        im = Image.fromarray(a.astype(np.uint8))
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


# ----------------------------------------------------------------------------- dlib models

def dlib_model_path(name: str) -> str:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise UncannyError("face models missing: pip install face_recognition_models==0.3.0")
    path = os.path.join(spec.submodule_search_locations[0], "models", name)
    if not os.path.isfile(path):
        raise UncannyError(f"{path}: dlib model file missing from face_recognition_models")
    return path


@lru_cache(maxsize=None)
def _dlib():
    try:
        import dlib
    except ImportError:
        raise UncannyError("dlib missing: pip install dlib-bin==20.0.1.post1") from None
    return dlib


@lru_cache(maxsize=None)
def detector():
    return _dlib().get_frontal_face_detector()


@lru_cache(maxsize=None)
def shape_predictor():
    return _dlib().shape_predictor(dlib_model_path("shape_predictor_68_face_landmarks.dat"))


@lru_cache(maxsize=None)
def face_recogniser():
    return _dlib().face_recognition_model_v1(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat"))


@dataclass
class Face:
    box: tuple[int, int, int, int]  # left, top, right, bottom
    landmarks: np.ndarray           # (68, 2) float, x y
    shape: object                   # dlib full_object_detection (for descriptors)

    @property
    def size(self) -> int:
        return min(self.box[2] - self.box[0], self.box[3] - self.box[1])


def find_faces(img: np.ndarray, upsample: int = 1) -> list[Face]:
    """All frontal faces in an RGB uint8 image, largest first."""
    rects = detector()(img, upsample)
    faces = []
    for r in rects:
        shape = shape_predictor()(img, r)
        lm = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        faces.append(Face((r.left(), r.top(), r.right(), r.bottom()), lm, shape))
    return sorted(faces, key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))


def _enlarge(im: np.ndarray, factor: int) -> np.ndarray:
    """Bicubic upscaling (small GAN samples are below the HOG detector's 80 px window)."""
    if factor <= 1:
        return im
    return np.asarray(Image.fromarray(im).resize((im.shape[1] * factor, im.shape[0] * factor), Image.BICUBIC))


def detection_rate(images: np.ndarray, upscale: int = 4, upsample: int = 0, show_progress: bool = False) -> float:
    """Fraction of images (N, H, W, 3) uint8 in which the HOG detector finds a face, after
    upscaling each image `upscale` times."""
    from .util import progress
    hits = sum(len(detector()(_enlarge(im, upscale), upsample)) > 0
               for im in progress(images, desc="faces", disable=not show_progress))
    return hits / max(len(images), 1)


@lru_cache(maxsize=None)
def face_net(device: str = "cpu"):
    """dlib's descriptor network ported to PyTorch (differentiable, any device), weights read
    from the same file dlib uses. Equal to dlib's own descriptors (tests)."""
    from .formats import read_dlib_face_net
    path = dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")
    try:
        return read_dlib_face_net(path).to(device)
    except ValueError as e:
        raise UncannyError(f"{path}: {e}") from None


def chip_grid(face: Face, height: int, width: int, size: int = 150, padding: float = 0.25):
    """Sampling grid (1, size, size, 2) for F.grid_sample (align_corners=False) that cuts out
    the same face chip as dlib's get_face_chip(img, shape, size, padding) from an image of
    height x width: dlib's chip rectangle, rotated by its angle about its centre."""
    import torch
    d = _dlib().get_face_chip_details(face.shape, size, padding)
    r, a = d.rect, d.angle
    c = np.array([(r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2])
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    tl, tr, br = (rot @ (np.array(p) - c) + c for p in
                  ((r.left(), r.top()), (r.right(), r.top()), (r.right(), r.bottom())))
    u = np.linspace(0, 1, size)
    pts = tl + u[None, :, None] * (tr - tl) + u[:, None, None] * (br - tr)   # (size, size, 2) x, y
    norm = (2 * pts + 1) / np.array([width, height]) - 1
    return torch.from_numpy(norm).float()[None]


def descriptors(images: np.ndarray, upscale: int = 4) -> np.ndarray:
    """128-D dlib face descriptors (N', 128) of the images where a face is found."""
    return descriptors_with_index(images, upscale)[0]


def descriptors_with_index(images: np.ndarray, upscale: int = 4) -> tuple[np.ndarray, list[int]]:
    """(descriptors (N', 128), indices of the N' images in which a face was found)."""
    out, keep = [], []
    for i, im in enumerate(images):
        im = _enlarge(im, upscale)
        faces = find_faces(im, upsample=0)
        if faces:
            out.append(np.array(face_recogniser().compute_face_descriptor(im, faces[0].shape)))
            keep.append(i)
    return np.array(out).reshape(-1, 128), keep


# ----------------------------------------------------------------------------- alignment

def face_quad(lm: np.ndarray) -> np.ndarray:
    """FFHQ's oriented square around eyes and mouth from 68 landmarks: corners (4, 2) x y, in
    the order top-left, bottom-left, bottom-right, top-right of the aligned face."""
    eye_l, eye_r = lm[36:42].mean(0), lm[42:48].mean(0)
    eye_avg, eye_to_eye = (eye_l + eye_r) / 2, eye_r - eye_l
    mouth_avg = (lm[48] + lm[54]) / 2
    eye_to_mouth = mouth_avg - eye_avg
    # x along the eyes (tilted towards the mouth axis), y orthogonal
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.flipud(x) * [-1, 1]
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y]).astype(np.float64)


def align_face(img: np.ndarray, lm: np.ndarray, output_size: int = 64,
               transform_size: int | None = None) -> np.ndarray:
    """FFHQ-style alignment from 68 landmarks: an oriented square around eyes and mouth,
    reflect-padded (with blurred edges) where it leaves the photo, resampled to
    `output_size`. Returns (output_size, output_size, 3) uint8."""
    transform_size = transform_size or max(4 * output_size, 256)
    quad = face_quad(lm)
    qsize = float(np.hypot(*(quad[3] - quad[0])))

    pil = Image.fromarray(img)
    # Shrink very large photos first (anti-aliasing).
    shrink = int(np.floor(qsize / transform_size * 0.5))
    if shrink > 1:
        pil = pil.resize((int(np.rint(pil.size[0] / shrink)), int(np.rint(pil.size[1] / shrink))),
                         Image.LANCZOS)
        quad /= shrink
        qsize /= shrink

    # Crop to the quad plus a border.
    border = max(int(np.rint(qsize * 0.1)), 3)
    crop = (int(np.floor(quad[:, 0].min())), int(np.floor(quad[:, 1].min())),
            int(np.ceil(quad[:, 0].max())), int(np.ceil(quad[:, 1].max())))
    crop = (max(crop[0] - border, 0), max(crop[1] - border, 0),
            min(crop[2] + border, pil.size[0]), min(crop[3] + border, pil.size[1]))
    if crop[2] - crop[0] < pil.size[0] or crop[3] - crop[1] < pil.size[1]:
        pil = pil.crop(crop)
        quad -= crop[0:2]

    # Pad by reflection where the quad leaves the photo, fading the padding into a blur.
    pad = (int(np.floor(quad[:, 0].min())), int(np.floor(quad[:, 1].min())),
           int(np.ceil(quad[:, 0].max())), int(np.ceil(quad[:, 1].max())))
    pad = (max(-pad[0] + border, 0), max(-pad[1] + border, 0),
           max(pad[2] - pil.size[0] + border, 0), max(pad[3] - pil.size[1] + border, 0))
    if max(pad) > border - 4:
        pad = np.maximum(pad, int(np.rint(qsize * 0.3)))
        a = np.float32(pil)
        h0, w0 = a.shape[:2]
        # np.pad reflect cannot pad more than the image size at once: repeat as needed.
        a = _reflect_pad(a, pad)
        h, w = a.shape[:2]
        yy, xx = np.ogrid[:h, :w]
        mask = np.maximum(1.0 - np.minimum(np.float32(xx) / pad[0], np.float32(w - 1 - xx) / pad[2]),
                          1.0 - np.minimum(np.float32(yy) / pad[1], np.float32(h - 1 - yy) / pad[3]))
        mask = mask[..., None]
        blur = np.float32(Image.fromarray(np.uint8(np.clip(a, 0, 255))).filter(
            ImageFilter.GaussianBlur(qsize * 0.02)))
        a += (blur - a) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
        a += (np.median(a, axis=(0, 1)) - a) * np.clip(mask, 0.0, 1.0)
        pil = Image.fromarray(np.uint8(np.clip(np.rint(a), 0, 255)), "RGB")
        quad += pad[:2]

    pil = pil.transform((transform_size, transform_size), Image.QUAD, (quad + 0.5).flatten(),
                        Image.BILINEAR)
    if output_size < transform_size:
        pil = pil.resize((output_size, output_size), Image.LANCZOS)
    return np.asarray(pil, dtype=np.uint8)


def _reflect_pad(a: np.ndarray, pad) -> np.ndarray:
    left, top, right, bottom = (int(p) for p in pad)
    while left or top or right or bottom:
        h, w = a.shape[:2]
        step = (min(left, w - 1), min(top, h - 1), min(right, w - 1), min(bottom, h - 1))
        a = np.pad(a, ((step[1], step[3]), (step[0], step[2]), (0, 0)), "reflect")
        left, top, right, bottom = (p - s for p, s in zip((left, top, right, bottom), step))
    return a
