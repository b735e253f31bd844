"""Average the G_ema weights of several training snapshots into one checkpoint (D from the last).

    python scripts/average_snapshots.py runs/faces64v2/snapshots/kimg-0001{75,80,85,90,91}.safetensors \\
        --out /tmp/avg.safetensors

A quick look at what a longer G_ema half-life would give without training again: a uniform
average over snapshots a few kimg apart is a longer moving average of G (a test of the "longer
half-life" idea in docs/TRAINING.md, "Where this stands"). Measure the result like any snapshot.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from uncanny.adapters import build  # noqa: E402
from uncanny.adapters.stylegan2 import StyleGAN2  # noqa: E402
from uncanny.checkpoint import load_into, read_checkpoint, save_checkpoint  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("snapshots", nargs="+")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    cks = [read_checkpoint(p) for p in a.snapshots]
    if any(ck.config != cks[0].config for ck in cks):
        sys.exit("the snapshots are of different architectures")
    last = cks[-1]
    avg = {k: sum(ck.state["g_ema"][k].float() for ck in cks) / len(cks) for k in last.state["g_ema"]}
    g, d = build("stylegan2", last.config)
    g, d = load_into(g, avg, a.out, "g_ema"), load_into(d, last.state["d"], last.path, "d")
    w_avg = StyleGAN2(g, None, None, last.config, {}, a.out).estimate_w_avg()
    meta = {k: v for k, v in last.header.items() if k in ("provenance", "training")}
    meta["averaged_g_ema_of"] = [os.path.basename(p) for p in a.snapshots]
    save_checkpoint(a.out, "stylegan2", last.config, {"g_ema": g, "d": d}, meta, w_avg=w_avg)
    print(f"{a.out}: G_ema averaged over {len(cks)} snapshots, D of {os.path.basename(last.path)}")


if __name__ == "__main__":
    main()
