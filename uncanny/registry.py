"""Embedded models: checkpoints shipped inside the package, addressed by name.

    uncanny models                    # list them
    uncanny sample --model faces64    # a name works wherever a checkpoint path does
"""

from __future__ import annotations

import json
import os

from .errors import UncannyError
from .runs import SNAPSHOT_DIR, list_snapshots

WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "weights")


def embedded() -> dict[str, str]:
    """name -> path of every embedded checkpoint (e.g. faces64, faces64-kimg040)."""
    if not os.path.isdir(WEIGHTS_DIR):
        return {}
    return {f[: -len(".safetensors")]: os.path.join(WEIGHTS_DIR, f)
            for f in sorted(os.listdir(WEIGHTS_DIR)) if f.endswith(".safetensors")}


def describe(name: str) -> dict:
    path = embedded()[name]
    side = os.path.splitext(path)[0] + ".json"
    return json.load(open(side)) if os.path.isfile(side) else {}


DEFAULT = "faces64v2"   # the model every verb uses when none is given (docs/MODEL_CARD.md)


def resolve(name_or_path: str | None) -> str:
    """A checkpoint path from a path or an embedded name (None: the default model)."""
    name_or_path = name_or_path or DEFAULT
    if os.path.isfile(name_or_path):
        return name_or_path
    # RUN/ITER: snapshot ITER of a foil run folder
    run, it = os.path.split(name_or_path.rstrip("/"))
    if it.isdigit() and os.path.isdir(os.path.join(run, SNAPSHOT_DIR)):
        have = list_snapshots(os.path.join(run, SNAPSHOT_DIR), "iter")
        if int(it) not in have:
            raise UncannyError(f"{name_or_path}: run has no snapshot at iteration {int(it)} "
                               f"(it has {', '.join(map(str, have)) or 'none'})")
        return have[int(it)]
    if os.path.isdir(name_or_path):
        raise UncannyError(f"{name_or_path}: is a folder, not a checkpoint (for a foil snapshot use RUN/ITER)")
    models = embedded()
    if name_or_path in models:
        return models[name_or_path]
    if os.sep in name_or_path or name_or_path.endswith((".safetensors", ".pt", ".pkl", ".model")):
        raise UncannyError(f"{name_or_path}: no such checkpoint file")
    known = ", ".join(models) or "none yet"
    raise UncannyError(f"{name_or_path}: neither a file nor an embedded model (embedded: {known})")
