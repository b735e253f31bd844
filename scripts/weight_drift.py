"""How far training has moved each part of a StyleGAN2 generator: its mapping network (z -> w),
its synthesis convolutions and its toRGB layers, as the relative distance ||W - W0|| / ||W0||
from the run's own random start (rebuilt from run.json's architecture and seed) and from the
snapshot before. StyleGAN's mapping network learns at 1/100 of the rate of the rest (lr_mlp 0.01);
in a run of a few hundred kimg it may never leave its random start, which this shows.

    python scripts/weight_drift.py runs/faces64v2 runs/faces64v2/snapshots/kimg-000{275,310,415}.safetensors

Reads G_ema's weights (what sampling uses); --net g for the trained G itself.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from uncanny.checkpoint import read_checkpoint  # noqa: E402
from uncanny.errors import UncannyError  # noqa: E402
from uncanny.nets.stylegan2 import MAPPING  # noqa: E402
from uncanny.runs import RunFolder  # noqa: E402
from uncanny.train import first_width_shapes, run_start  # noqa: E402

PARTS = {"mapping": MAPPING, "synthesis": "convs.", "to_rgb": "to_rgbs."}


def relative_distance(a: dict, b: dict, prefix: str) -> float:
    """||a - b|| / ||b|| over the floating-point tensors whose names start with prefix."""
    keys = [k for k in b if k.startswith(prefix) and b[k].is_floating_point()]
    if not keys:
        raise ValueError(f"no weights named {prefix}*")
    num = sum(float((a[k].float() - b[k].float()).pow(2).sum()) for k in keys)
    den = sum(float(b[k].float().pow(2).sum()) for k in keys)
    return (num / den) ** 0.5


def shapes(sd: dict) -> dict:
    return {k: tuple(v.shape) for k, v in sd.items()}


def reads_from_added(sd: dict, first: dict) -> float | None:
    """For a G that was widened: how much its old output channels read from the channels the
    widening added, ||w[old out, added in]|| / ||w[old out, old in]|| over the modulated convs
    whose input grew (0 right after widening: those weights start at zero). None if none grew."""
    num = den = 0.0
    for k, v in sd.items():
        if k in first and v.ndim == 5 and first[k][2] < v.shape[2]:
            o, i = first[k][1], first[k][2]
            num += float(v[:, :o, i:].float().pow(2).sum())
            den += float(v[:, :o, :i].float().pow(2).sum())
    return (num / den) ** 0.5 if den else None


def drift_rows(start: dict, snapshots: list[tuple[str, dict]], first: dict | None = None) -> list[dict]:
    """One row per snapshot: each part's distance from the start and from the previous snapshot;
    for a widened run (`first`: G's shapes before it), also `reads_from_added`."""
    rows, prev = [], None
    for name, sd in snapshots:
        row = {"snapshot": name}
        if first:
            row["reads_from_added"] = reads_from_added(sd, first)
        for part, prefix in PARTS.items():
            row[f"{part}_from_start"] = relative_distance(sd, start, prefix)
            row[f"{part}_from_prev"] = relative_distance(sd, prev, prefix) if prev is not None else None
        rows.append(row)
        prev = sd
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="the training run folder (its run.json gives the architecture and seed)")
    ap.add_argument("snapshots", nargs="+", help="snapshots of that run, in training order")
    ap.add_argument("--net", choices=("g_ema", "g"), default="g_ema")
    args = ap.parse_args(argv)
    try:
        run = RunFolder(args.run, "train").read_json("run.json")
        if "arch" not in run:
            raise UncannyError(f"{os.path.join(args.run, 'run.json')}: no recorded architecture")
        start = run_start(run).state_dict()
        snaps = []
        for path in args.snapshots:
            state = read_checkpoint(path).state
            if args.net not in state:
                raise UncannyError(f"{path}: no {args.net} weights in this file")
            if shapes(state[args.net]) != shapes(start):
                raise UncannyError(f"{path}: not a snapshot of this run's architecture ({args.run}; "
                                   f"a run that widened G compares the snapshots after it)")
            snaps.append((path, state[args.net]))
    except UncannyError as e:
        print(e, file=sys.stderr)
        return 2
    first = first_width_shapes(run["arch"], run.get("recipe_changes", []))
    rows = drift_rows(start, snaps, first)
    extra = ["old channels' reads from added ones"] if first else []
    print("| snapshot | " + " | ".join([f"{p} from start | {p} from previous" for p in PARTS] + extra) + " |")
    print("|---" * (1 + 2 * len(PARTS) + len(extra)) + "|")
    for r in rows:
        cells = [os.path.basename(r["snapshot"])]
        for p in PARTS:
            prev = r[f"{p}_from_prev"]
            cells += [f"{r[f'{p}_from_start']:.4f}", "" if prev is None else f"{prev:.5f}"]
        if first:
            cells.append(f"{r['reads_from_added']:.4f}")
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
