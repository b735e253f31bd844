"""Measure attribute directions and write docs/EDITING.md (and its figures).

    python scripts/editing_report.py --attr runs/editing/attr --sefa runs/editing/sefa
    # the directions come from:
    #   uncanny edit find --method attribute --samples 10000 --out runs/editing/attr
    #   uncanny edit find --method sefa --out runs/editing/sefa

For every attribute direction, plain and conditioned (gender and age held still), on held-out
seeds at strengths -6..+6 sigma: each judge's mean score per strength (is the direction's own judge
monotone? the second judge, where there is one), the identity drift (dlib distance to the
unedited face) where the attribute has moved by one standard deviation of its scores over
samples, the entanglement matrix (how far each direction moves every attribute), and the
cosine between SeFa's top directions and the attribute directions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from uncanny import faces  # noqa: E402
from uncanny.adapters import load_gan  # noqa: E402
from uncanny.edit import ApplyConfig, conditioned, edit_w_plus, load_directions, strengths  # noqa: E402
from uncanny.judges import ATTRIBUTES, SCORES, SECOND_JUDGES, judge  # noqa: E402
from uncanny.media import grid, label, save_png, to_uint8, upscale  # noqa: E402
from uncanny.plots import plt  # noqa: E402
from uncanny.util import atomic_write_text, seed_z  # noqa: E402

# in sigma, W's own spread along the direction: `uncanny edit apply`'s default range (-3..+3 in 7).
# faces64v2's W spreads twice as far along gender and yaw as faces64's, and at +-6 half its faces break.
STRENGTHS = strengths(ApplyConfig.__dataclass_fields__["strengths"].default)
SET_AMOUNT = 0.5                                  # identity drift where the attribute moved this many std
CONDITION = {"gender": ("age",), "age": ("gender",)}   # others: ("gender", "age")


def sweep(gan, vec, sigma, seeds):
    """Images (n_seeds, len(STRENGTHS), H, W, 3) of every seed along one direction."""
    w = gan.mapping(seed_z(seeds, gan.z_dim, gan.device))
    out = []
    with torch.no_grad():
        for wi in w:
            wp = edit_w_plus(wi.view(1, 1, -1).repeat(1, gan.num_ws, 1), vec, sigma, STRENGTHS, list(range(gan.num_ws)))
            out.append(to_uint8(gan.synthesize("w+", wp)))
    return np.stack(out)


def identity_drift(imgs):
    """(n_seeds, len(STRENGTHS)) dlib distance to the strength-0 image (NaN: no face)."""
    zero = list(STRENGTHS).index(0)
    out = np.full(imgs.shape[:2], np.nan)
    for i, row in enumerate(imgs):
        desc, keep = faces.descriptors_with_index(row)
        if zero in keep:
            ref = desc[keep.index(zero)]
            for j, k in enumerate(keep):
                out[i, k] = np.linalg.norm(desc[j] - ref)
    return out


def measure(gan, d, seeds, label_std, show):
    """Per direction (plain and conditioned): mean scores per strength and identity drift."""
    results = {}
    for name in [n for n in d.names if n in ATTRIBUTES]:
        k = d.index_of(name)
        for variant, cond in (("plain", ()), ("conditioned", CONDITION.get(name, ("gender", "age")))):
            vec = (conditioned(d, k, cond) if cond else d.vectors[k]).to(gan.device)
            imgs = sweep(gan, vec, float(d.sigma[k]), seeds)
            flat = imgs.reshape(-1, *imgs.shape[2:])
            s = judge(flat)
            means = {a: np.nanmean(s[a].reshape(imgs.shape[:2]), axis=0) for a in SCORES}
            drift = identity_drift(imgs)
            own = means[name]
            zero = list(STRENGTHS).index(0)
            target = own[zero] + SET_AMOUNT * label_std[name]
            s_star = float("nan")
            for j in range(zero + 1, len(own)):       # first crossing on the positive side
                if own[j] >= target:
                    t = (target - own[j - 1]) / (own[j] - own[j - 1])
                    s_star = STRENGTHS[j - 1] + t * (STRENGTHS[j] - STRENGTHS[j - 1])
                    break
            drift_mean = np.nanmean(drift, axis=0)
            results[(name, variant)] = {
                "means": means, "drift": drift_mean, "condition": cond,
                "monotone": bool(np.all(np.diff(own) > 0)),
                "moved_std": float((own[-1] - own[0]) / label_std[name]),
                "s_star": float(s_star),
                "drift_at_s_star": float(np.interp(s_star, STRENGTHS, drift_mean)) if np.isfinite(s_star) else float("nan"),
                "face_rate": float(s["face_found"].mean()),
                "example": imgs[[seeds.index(v) for v in show]]}
            print(f"{name:<11} {variant:<11} monotone {results[(name, variant)]['monotone']}  "
                  f"moved {results[(name, variant)]['moved_std']:+.2f} std", flush=True)
    return results


def entanglement(results, label_std, variant):
    """rows = directions, columns = scores: change from the first to the last strength, in std of the score per sigma."""
    names = [n for (n, v) in results if v == variant]
    span = STRENGTHS[-1] - STRENGTHS[0]
    m = np.array([[(results[(n, variant)]["means"][a][-1] - results[(n, variant)]["means"][a][0])
                   / (span * label_std[a]) for a in SCORES] for n in names])
    return names, m


def heatmaps(results, label_std, path):
    mats = {v: entanglement(results, label_std, v) for v in ("plain", "conditioned")}
    top = max(float(np.abs(m).max()) for _, m in mats.values())
    fig, axes = plt.subplots(1, 2, figsize=(15, 5), sharey=True)
    for ax, variant in zip(axes, ("plain", "conditioned")):
        names, m = mats[variant]
        im = ax.imshow(m, cmap="RdBu_r", vmin=-top, vmax=top)
        ax.set_xticks(range(len(SCORES)), SCORES, rotation=35, ha="right")
        ax.set_yticks(range(len(names)), [f"{n} direction" for n in names])
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                dark = abs(m[i, j]) > 0.6 * top                   # white on the darkest cells, to stay legible
                ax.text(j, i, f"{m[i, j]:+.2f}", ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
        ax.set_title("plain" if variant == "plain" else "conditioned (gender and age projected out)")
    fig.suptitle("How far each direction moves each judge's score: its standard deviation over samples, "
                 "per sigma of the direction", y=0.98)
    fig.colorbar(im, ax=axes, shrink=0.8)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def strip(results, path, show):
    rows = []
    for (name, variant), r in results.items():
        if variant != "plain":
            continue
        k = max(1, 80 // r["example"].shape[2])
        both = [im for seed_imgs in r["example"][:2] for im in seed_imgs]
        rows.append(label(grid(np.stack([upscale(i, k) for i in both]), ncol=len(both)),
                          f"{name}: held-out seeds {', '.join(map(str, show))}, strength {STRENGTHS[0]:+.0f} ... {STRENGTHS[-1]:+.0f} sigma"))
    save_png(path, np.concatenate(rows, axis=0))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--attr", required=True)
    ap.add_argument("--sefa", required=True)
    ap.add_argument("--seeds", type=int, default=48)
    ap.add_argument("--show", default="50006,50007",
                    help="the two held-out seeds the strip shows (picked by eye for intact faces, a man and a woman)")
    ap.add_argument("--doc", default="docs/EDITING.md")
    ap.add_argument("--images", default="docs/images")
    ap.add_argument("--timing", default="", help="a line on how long finding the directions took")
    a = ap.parse_args()
    t0 = time.time()
    d, sefa = load_directions(a.attr), load_directions(a.sefa)
    gan = load_gan(d.model)
    labels = np.load(os.path.join(a.attr, "labels.npz"))
    label_std = {s: float(np.nanstd(labels[s])) if s in labels.files else float("nan") for s in SCORES}
    seeds = list(range(50_000, 50_000 + a.seeds))            # held out: directions were fitted on seeds 0 ...
    try:
        show = [int(v) for v in a.show.split(",")]
    except ValueError:
        sys.exit(f"--show {a.show}: expected two seeds like 50006,50007")
    if len(show) != 2 or not set(show) <= set(seeds):
        sys.exit(f"--show {a.show}: expected two of the held-out seeds 50000-{seeds[-1]}")
    results = measure(gan, d, seeds, label_std, show)
    heatmaps(results, label_std, os.path.join(a.images, "edit-entanglement.png"))
    strip(results, os.path.join(a.images, "edit-attributes.png"), show)
    cos = (sefa.vectors @ d.vectors.t()).abs().numpy()

    lines = ["# Editing: directions measured", "",
             f"Model `{os.path.basename(d.model)}` ({d.arch}, {gan.size} px). Attribute directions fitted on "
             f"{len(labels['face_found'])} sampled latents (seeds from 0; dlib found a face in "
             f"{labels['face_found'].mean():.1%}), the top and bottom share of each judge's scores; measured "
             f"here on {len(seeds)} other seeds (50000-{50000 + len(seeds) - 1}) at strengths "
             f"{', '.join(f'{v:+.0f}' for v in STRENGTHS)} "
             f"(standard deviations of W along the direction, `uncanny edit apply`'s default range). The judges "
             f"read the images as they are, so the numbers say what the directions do to what the judges "
             f"measure; the strip below shows what they do to a face.", "",
             "Reproduce:", "", "```",
             f"uncanny edit find --method attribute --samples {len(labels['face_found'])} --out {a.attr}",
             f"uncanny edit find --method sefa --out {a.sefa}",
             f"python scripts/editing_report.py --attr {a.attr} --sefa {a.sefa}", "```", ""]
    if a.timing:
        lines += [a.timing, ""]
    lines += ["## The directions", "",
              "| attribute | judge | boundary accuracy (held-out 30%) | sigma (std of W along it) |",
              "| --- | --- | ---: | ---: |"]
    judge_of = {"gender": "Cydral's gender network (CC0 ONNX)", "age": "Cydral's age network (CC0 ONNX)",
                "smile": "dlib 68 landmarks", "mouth_open": "dlib 68 landmarks", "eyes_open": "dlib 68 landmarks",
                "yaw": "dlib 68 landmarks", "yaw_5pt": "dlib 5 landmarks"}
    for i, n in enumerate(d.names):
        lines.append(f"| {n} | {judge_of.get(n, '')} | {d.values[i]:.3f} | {float(d.sigma[i]):.3f} |")
    lines += ["", "## Along each direction", "",
              f"Own judge's score from {STRENGTHS[0]:+.0f} to {STRENGTHS[-1]:+.0f} (mean over seeds), whether it rises "
              f"at every step, how far it moved in standard deviations of the score over samples, and the identity "
              f"drift: the dlib distance to the unedited face at the strength where the attribute has moved by "
              f"{SET_AMOUNT} standard deviation (0.6 = a different person for dlib).", "",
              f"| direction | variant | own score {STRENGTHS[0]:+.0f} → {STRENGTHS[-1]:+.0f} | monotone | moved (std) | "
              f"strength for +{SET_AMOUNT} std | identity drift there | drift at {STRENGTHS[-1]:+.0f} | face rate |",
              "| --- | --- | --- | :---: | ---: | ---: | ---: | ---: | ---: |"]
    for (name, variant), r in results.items():
        own = r["means"][name]
        cond = f" (holding {', '.join(r['condition'])})" if r["condition"] else ""
        lines.append(f"| {name} | {variant}{cond} | {own[0]:.3g} → {own[-1]:.3g} | {'yes' if r['monotone'] else 'no'} | "
                     f"{r['moved_std']:+.2f} | {r['s_star']:.2f} | {r['drift_at_s_star']:.3f} | {r['drift'][-1]:.3f} | "
                     f"{r['face_rate']:.2f} |")
    lines += ["", "A second judge, separately trained, where one exists here:", ""]
    for a_, second in SECOND_JUDGES.items():
        for variant in ("plain", "conditioned"):
            r = results.get((a_, variant))
            if r:
                m = r["means"][second]
                lines.append(f"- the {a_} direction ({variant}) measured by `{second}`: {m[0]:.3f} → {m[-1]:.3f} "
                             f"({'rising at every step' if np.all(np.diff(m) > 0) else 'not monotone'})")
    lines += ["- smile has no second judge: mediapipe installs but ships no face model (its face landmarker "
              "downloads from Google), so the smile direction is confirmed only by the landmarks that labelled it.", ""]
    for variant in ("plain", "conditioned"):
        names, m = entanglement(results, label_std, variant)
        lines += [f"## Entanglement, {variant}", "",
                  f"Change of each score from {STRENGTHS[0]:+.0f} to {STRENGTHS[-1]:+.0f}, in its standard deviation "
                  "per sigma of the direction "
                  "(the diagonal is the direction's own attribute).", "",
                  "| direction | " + " | ".join(SCORES) + " |", "| --- |" + " ---: |" * len(SCORES)]
        for n, row in zip(names, m):
            lines.append(f"| {n} | " + " | ".join(f"{v:+.2f}" for v in row) + " |")
        lines.append("")
    lines += ["![entanglement](images/edit-entanglement.png)", "",
              f"Each direction on two held-out seeds ({', '.join(map(str, show))}, picked by eye for intact "
              f"unedited faces, a man and a woman: `--show`), from {STRENGTHS[0]:+.0f} to {STRENGTHS[-1]:+.0f} sigma:", "",
              "![the attribute directions on two held-out seeds](images/edit-attributes.png)", "",
              "## SeFa against the attribute directions", "",
              "|cos| between SeFa's top directions (closed form, unsupervised) and the attribute directions.", "",
              "| SeFa | eigenvalue | " + " | ".join(d.names) + " |", "| --- | ---: |" + " ---: |" * len(d.names)]
    for i in range(len(sefa.vectors)):
        lines.append(f"| {i} | {sefa.values[i]:.3g} | " + " | ".join(f"{c:.2f}" for c in cos[i]) + " |")
    lines += ["", f"(report written in {time.time() - t0:.0f} s)", ""]
    atomic_write_text(a.doc, "\n".join(lines))
    print(f"wrote {a.doc}")


if __name__ == "__main__":
    main()
