"""Label a finished foil run again with today's stage rules, and judge it against the paper's arc.

    python scripts/foil_relabel.py runs/foil-bare --timeline docs/images/foil-bare-timeline.png \
        --curves docs/images/foil-bare-curves.png

For a run recorded before a metric the rules use existed (`sameness`, added with the collapse
rule that reads it), the metric is filled in at the snapshots from the snapshots themselves (the
fixed seeds generated again); rows between snapshots stay empty, and the rules skip empty values.
Prints the stages, the peak and `foil.arc_criteria`; with --timeline, draws the timeline strip
with the new labels, with --curves the run's curves. The run folder itself is not changed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from uncanny.adapters import load_gan  # noqa: E402
from uncanny.foil import FoilConfig, arc_criteria, label_stages, timeline_strip  # noqa: E402
from uncanny.media import save_png  # noqa: E402
from uncanny.metrics import sameness  # noqa: E402
from uncanny.runs import RunFolder  # noqa: E402
from uncanny.util import seed_z  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--timeline", default=None, help="write the relabelled timeline strip here")
    ap.add_argument("--curves", default=None, help="write the run's curves with the new stages here")
    a = ap.parse_args()
    with open(os.path.join(a.run, "run.json")) as f:
        record = json.load(f)
    cfg = FoilConfig.resumed(record["config"], FoilConfig(out=a.run))   # the run's own settings
    with open(os.path.join(a.run, "metrics.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    snaps = RunFolder(a.run, "foil").snapshots("iter")
    gans = {it: load_gan(path, which="g") for it, path in sorted(snaps.items())}
    z = seed_z(cfg.sample_seeds, next(iter(gans.values())).z_dim, "cpu")
    by_iter = {int(r["iter"]): r for r in rows}
    for it, gan in gans.items():
        if it in by_iter and not by_iter[it].get("sameness"):
            with torch.no_grad():
                by_iter[it]["sameness"] = f"{sameness(torch.cat([gan.generate(b, cfg.truncation) for b in z.split(16)])):.4f}"
    stages, peak = label_stages(rows, sorted(gans))
    arc = arc_criteria(rows, stages, peak, cfg.iters)
    for it in sorted(gans):
        r = by_iter.get(it, {})
        print(f"{it:6d} {stages.get(it, '-'):12s} face rate {r.get('face_rate') or '-':>6} diversity {r.get('diversity') or '-':>7} "
              f"sameness {r.get('sameness') or '-':>6} D {r.get('d_fixed') or '-'}")
    print(f"peak {peak} ({arc['peak_fraction']:.2f}); faces gone at {arc['faces_gone_at']}; stages {', '.join(arc['stages'])}; "
          f"mean R - B {arc['mean_r_minus_b']:+.3f}; arc: {'yes' if arc['arc'] else 'no'}")
    if a.timeline:
        n = min(cfg.timeline_seeds, len(cfg.sample_seeds))
        save_png(a.timeline, timeline_strip(gans, stages, z[:n], cfg.truncation))
        print(a.timeline)
    if a.curves:
        from uncanny.plots import plot_foil_curves
        plot_foil_curves(rows, stages, peak, a.curves, title=f"foil {os.path.basename(a.run.rstrip('/'))} (relabelled)")
        print(a.curves)


if __name__ == "__main__":
    main()
