"""Measure a generator the way the model card does, and write the numbers and the closest pairs.

    python scripts/model_quality.py runs/faces64v2/snapshots/kimg-000050.safetensors \\
        --real data/celeba64 --out docs/quality/faces64v2-kimg050 [--n 1000 --seed 7000]

Writes OUT.json (dlib-descriptor Frechet distance of N samples against the real aligned set and
as a multiple of the real-vs-real floor; the same with every noise input zeroed; face rates;
memorisation share) and OUT-pairs.png (the 8 samples nearest to a training photo, each above its
nearest training photo, with the descriptor distance). See uncanny.measure.quality.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from uncanny.measure import quality  # noqa: E402
from uncanny.media import grid, label, save_png, upscale  # noqa: E402
from uncanny.util import atomic_write_text  # noqa: E402


def pairs_image(pairs) -> np.ndarray:
    cols = [label(np.concatenate([upscale(s, 2), upscale(r, 2)], 0), f"{d:.3f}", height=14) for s, r, d in pairs]
    return grid(np.stack(cols), ncol=len(cols))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--real", required=True)
    ap.add_argument("--out", required=True, help="path prefix: OUT.json and OUT-pairs.png")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7000)
    a = ap.parse_args()
    q = quality(a.model, a.real, a.n, a.seed)
    pairs = q.pop("pairs")
    q["model"] = a.model
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    atomic_write_text(a.out + ".json", json.dumps(q, indent=1))
    if pairs:
        save_png(a.out + "-pairs.png", pairs_image(pairs))
    print(json.dumps(q, indent=1))


if __name__ == "__main__":
    main()
