"""Embed a training snapshot in the package as a named model (G_ema + D, float16), or a detector
run (`uncanny detector train`) as a named detector (float16, its detector.json beside it).

    python scripts/ship_model.py runs/faces64/snapshots/kimg-000060.safetensors faces64
    python scripts/ship_model.py runs/faces64/snapshots/kimg-000020.safetensors faces64-kimg020
    python scripts/ship_model.py runs/detector detector64

float16 halves the size (the shipped set must stay under 70 MB); loading casts back to float32.
The raw G is dropped: foil starts from G_ema, and G_ema is what people sample.
"""

import os
import sys


sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from uncanny.checkpoint import read_checkpoint, save_checkpoint  # noqa: E402
from uncanny.detectors import WEIGHTS_DIR as DETECTORS_DIR, load_detector, save_detector  # noqa: E402
from uncanny.registry import WEIGHTS_DIR  # noqa: E402


def ship(src: str, name: str) -> str:
    ck = read_checkpoint(src)
    os.makedirs(WEIGHTS_DIR, exist_ok=True)
    meta = {k: v for k, v in ck.header.items() if k not in ("format", "version", "arch", "config", "nets")}
    meta["shipped_from"] = os.path.basename(src)
    meta["storage"] = "float16 (loaded as float32)"
    nets = {k: {n: t.half() if t.is_floating_point() else t for n, t in ck.state[k].items()}
            for k in ("g_ema", "d")}
    dst = os.path.join(WEIGHTS_DIR, name + ".safetensors")
    save_checkpoint(dst, ck.arch, ck.config, nets, meta, w_avg=ck.w_avg)
    return dst


def ship_detector(run: str, name: str) -> str:
    """A detector run as NAME, float16, written by the trainer's own `save_detector` (weights and
    detector.json with the same record), its provenance added as `ship` adds a model's."""
    det = load_detector(run)
    meta = {k: v for k, v in det.meta.items() if k not in ("format", "version", "width")}   # save_detector's own
    meta["shipped_from"] = f"uncanny detector train --out {run}"
    meta["storage"] = "float16"
    dst = os.path.join(DETECTORS_DIR, name + ".safetensors")
    save_detector(dst, det.net.half(), meta)
    return dst


if __name__ == "__main__":
    is_detector = os.path.isfile(os.path.join(sys.argv[1], "detector.safetensors"))
    out = (ship_detector if is_detector else ship)(sys.argv[1], sys.argv[2])
    print(out, f"{os.path.getsize(out) / 1e6:.1f} MB")
