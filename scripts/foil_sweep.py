"""Sweep foil's loss x learning rate on a model and judge each run against the paper's arc.

    python scripts/foil_sweep.py --model faces64v2 --losses softplus,hinge,logd \\
        --lrs 0.0002,0.0005,0.001,0.002 --iters 300 --out runs/sweep --doc docs/FOIL_SWEEP.md

Every run uses snapshots at every eighth of the run and measures dlib's face rate on the fixed
seeds every `--faces-every` iterations. A run shows the arc when:
  - its first snapshot after the start keeps faces (dlib face rate >= 0.9),
  - the suggested peak-uncanny snapshot lies in the middle third of the run,
  - faces are gone (face rate under 0.1) only in the last third, if at all before the end,
  - its timeline shows divergence, convergence and collapse.
Writes a Markdown table (one row per run, with mean R - B over the run: the paper's red hue
shows as a positive value), and a figure of the face-rate and D-logit curves of every run.
Existing runs in --out are reused, so an interrupted sweep continues where it stopped.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from uncanny.foil import FoilConfig, arc_criteria, foil, label_stages  # noqa: E402
from uncanny.util import atomic_write_text, retain_freed_memory  # noqa: E402


def run_one(model, loss, lr, iters, out, faces_every, seed, lr_schedule="constant"):
    folder = os.path.join(out, f"{loss}-lr{lr:g}" + ("" if lr_schedule == "constant" else f"-{lr_schedule}"))
    schedule = tuple(sorted({round(iters * k / 8) for k in range(9)}))
    resume = os.path.isfile(os.path.join(folder, "run.json"))
    if resume:
        with open(os.path.join(folder, "run.json")) as f:
            if "peak_uncanny" in json.load(f):  # finished
                return folder
    foil(FoilConfig(model=model, out=folder, iters=iters, lr=lr, lr_schedule=lr_schedule, loss=loss, snapshots=schedule,
                    faces_every=faces_every, frame_every=max(1, iters // 60), seed=seed,
                    population_size=16, resume=resume))
    return folder


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--losses", default="softplus,hinge,logd")
    ap.add_argument("--lrs", default="0.0002,0.0005,0.001,0.002")
    ap.add_argument("--runs", default=None, help="explicit loss:lr[:schedule] runs (hinge:0.0005,"
                    "hinge:0.0002:ramp) instead of every loss with every lr")
    ap.add_argument("--schedule", default="constant", help="learning-rate schedule of the loss x lr runs")
    ap.add_argument("--iters", type=int, default=300)
    ap.add_argument("--faces-every", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/sweep")
    ap.add_argument("--doc", default=None, help="write the table and figure here (Markdown)")
    a = ap.parse_args()
    retain_freed_memory()
    results = []
    if a.runs:
        runs = [(p.split(":") + [a.schedule])[:3] for p in a.runs.split(",")]
    else:
        runs = [(loss, lr, a.schedule) for loss in a.losses.split(",") for lr in a.lrs.split(",")]
    for loss, lr, schedule in runs:
        lr = float(lr)
        folder = run_one(a.model, loss, lr, a.iters, a.out, a.faces_every, a.seed, schedule)
        with open(os.path.join(folder, "metrics.csv")) as f:
            rows = list(csv.DictReader(f))
        with open(os.path.join(folder, "run.json")) as f:
            run = json.load(f)
        # labelled again from the metrics, so runs made before a change to the rules are judged by today's
        stages, peak = label_stages(rows, sorted(int(k) for k in run["stages"]))
        r = arc_criteria(rows, stages, peak, a.iters)
        r.update(loss=loss, lr=lr, schedule=schedule, folder=folder, rows=rows)
        results.append(r)
        print(f"{loss:9s} lr {lr:<7g} {schedule:8s} first {r['first_face_rate']:.2f} peak {r['peak']} gone {r['faces_gone_at']} "
              f"stages {','.join(r['stages'])} R-B {r['mean_r_minus_b']:+.3f} arc {r['arc']}", flush=True)
    if a.doc:
        write_doc(results, a)


def write_doc(results, a):
    from uncanny.plots import plt
    fig, ax = plt.subplots(1, 2, figsize=(12, 4))
    for r in results:
        it = [int(x["iter"]) for x in r["rows"] if x.get("face_rate")]
        ax[0].plot(it, [float(x["face_rate"]) for x in r["rows"] if x.get("face_rate")], label=f"{r['loss']} {r['lr']:g} {r['schedule']}",
                   lw=2 if r["arc"] else 0.8)
        seen = [x for x in r["rows"] if x.get("d_fixed")]    # observed iterations (--observe-every)
        ax[1].plot([int(x["iter"]) for x in seen], [float(x["d_fixed"]) for x in seen], lw=2 if r["arc"] else 0.8)
    ax[0].set_title("dlib face rate, fixed seeds")
    ax[1].set_title("D logit on the fixed seeds")
    ax[1].set_yscale("symlog")
    for x in ax:
        x.axvspan(a.iters / 3, 2 * a.iters / 3, color="grey", alpha=0.1)
        x.set_xlabel("iteration")
    ax[0].legend(fontsize=7, ncol=2)
    img = os.path.splitext(a.doc)[0] + ".png"
    fig.tight_layout()
    fig.savefig(img, dpi=90)
    plt.close(fig)
    lines = [f"# Foil sweep on {a.model or 'the default model'}", "",
             f"`python scripts/foil_sweep.py --model {a.model} "
             + (f"--runs {a.runs}" if a.runs else f"--losses {a.losses} --lrs {a.lrs}") + f" --iters {a.iters}`",
             "", "| loss | lr | schedule | first snapshot face rate | peak (fraction) | faces gone at | stages | mean R - B | arc |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r['loss']} | {r['lr']:g} | {r['schedule']} | {r['first_face_rate']:.2f} | {r['peak']} ({r['peak_fraction']:.2f}) | "
                     f"{r['faces_gone_at'] if r['faces_gone_at'] is not None else 'never'} | {', '.join(r['stages'])} | "
                     f"{r['mean_r_minus_b']:+.3f} | {'yes' if r['arc'] else 'no'} |")
    lines += ["", f"![face rate and D logit of every run]({os.path.basename(img)})", ""]
    atomic_write_text(a.doc, "\n".join(lines))


if __name__ == "__main__":
    main()
