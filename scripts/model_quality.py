"""Measure a generator the way the model card does, and write the numbers and the closest pairs.

    python scripts/model_quality.py runs/faces64v2/snapshots/kimg-000050.safetensors \\
        --real data/celeba64 --out docs/quality/faces64v2-kimg050 [--n 1000 --seed 7000]

Writes OUT.json (dlib-descriptor Frechet distance of N samples against the real aligned set and
as a multiple of the real-vs-real floor; the same with every noise input zeroed; face rates;
memorisation share) and OUT-pairs.png (the 8 samples nearest to a training photo, each above its
nearest training photo, with the descriptor distance). The same as `uncanny measure --quality
--n 1000 --seed 7000 --out OUT`, with the card's protocol as its defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from uncanny.measure import quality, write_quality  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--real", required=True)
    ap.add_argument("--out", required=True, help="path prefix: OUT.json and OUT-pairs.png")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7000)
    a = ap.parse_args()
    print(json.dumps(write_quality(quality(a.model, a.real, a.n, a.seed), a.out, a.model), indent=1))


if __name__ == "__main__":
    main()
