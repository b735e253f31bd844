"""How long finding directions takes: SeFa (closed form), GANSpace (PCA of 10,000 W) and
attribute directions (generate 10,000 samples, judge them all, fit seven boundaries).
Issue #13's target: labelling 10,000 samples and fitting within 10 minutes on 2 cores.

    python benchmarks/bench_edit.py --model faces64 --out runs/editing     # appends to docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from report import add_malloc_option, append_section, apply_malloc  # noqa: E402  (benchmarks/report.py)
from uncanny.edit import FindConfig, find  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="faces64")
    ap.add_argument("--out", default="runs/editing")
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--no-write", action="store_true")
    add_malloc_option(ap)
    a = ap.parse_args()
    apply_malloc(a.malloc)
    rows = []
    for method in ("sefa", "ganspace", "attribute"):
        cfg = FindConfig(method=method, model=a.model, out=os.path.join(a.out, {"attribute": "attr"}.get(method, method)),
                         samples=a.samples, overwrite=True)
        t = time.perf_counter()
        r = find(cfg, show_progress=False)
        dt = time.perf_counter() - t
        what = {"sefa": "eigenvectors of the style weights", "ganspace": f"PCA of {a.samples} W",
                "attribute": f"{a.samples} samples generated, judged (7 scores), 7 boundaries fitted"}[method]
        rows.append([method, what, f"{dt:.1f} s"])
        print(f"{method:<10} {dt:7.1f} s  ({len(r['directions'])} directions)", flush=True)
    if not a.no_write:
        append_section(f"finding edit directions on {a.model}", ["method", "work", "wall time"], rows,
                       "Attribute labelling is dominated by dlib's HOG detector and landmarks on 4x enlarged "
                       "samples (about 12 ms an image); the ONNX age and gender networks and the logistic "
                       "boundaries take seconds.")


if __name__ == "__main__":
    main()
