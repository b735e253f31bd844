"""Plot a training run's measured quality against kimg: the dlib-descriptor Frechet distance as a
multiple of the real-vs-real floor, from the model card's measurements (scripts/model_quality.py).

    python scripts/quality_trend.py docs/quality/faces64v2 --out docs/quality/faces64v2-trend.png

Reads PREFIX-kimgNNN.json, one per measured snapshot. Draws the measurements, the issue's targets
(3x with the noise on, 5x with every noise input zeroed) and a power law fitted in log-log to the
last `--fit` measurements, extended to where it would cross 3x. The extension is a straight line
through a few points, printed and labelled as such: a planning aid, not a prediction.

    --zoom KIMG            a linear panel from KIMG: every value, with the spread and the face rate
    --branch PREFIX:LABEL[:FROM]   a side run's measurements as their own line (FROM: the branch it split from)
    --branch-panel KIMG    the branches alone, linear, from KIMG, each value labelled
    --carried PREFIX       fit the power law along the carried run (main run, then the branches it went on in)
"""

from __future__ import annotations

import argparse
import glob
import itertools
import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from uncanny.plots import _save, plt  # noqa: E402

TARGET = 3.0


def read_points(prefix: str) -> list[dict]:
    """[{kimg, x_floor, zero_x_floor, face_rate, memorisation, spread}] sorted by kimg, from PREFIX-kimgNNN.json."""
    pts = []
    for path in glob.glob(prefix + "-kimg*.json"):
        m = re.search(r"-kimg(\d+)\.json$", path)
        q = json.load(open(path))
        pts.append({"kimg": int(m.group(1)), "x_floor": q["samples"]["x_floor"],
                    "zero_x_floor": q["zero_noise"]["x_floor"], "face_rate": q["samples"]["face_rate"],
                    "memorisation": q["memorisation"]["share"],
                    "spread": q["samples"].get("descriptor_spread", float("nan"))})
    return sorted(pts, key=lambda p: p["kimg"])


def label_side(x: np.ndarray, i: int) -> dict:
    """Where point i's label goes so that it stays clear of the line: right of the last point, above
    a peak, below a valley, below-left or above-right (alternately) on a falling stretch, below-right
    on a rising one."""
    if i == len(x) - 1 and i > 0:
        return dict(xytext=(7, 0), ha="left", va="center")
    prev = x[i - 1] if i > 0 else None
    nxt = x[i + 1] if i + 1 < len(x) else None
    higher = [n for n in (prev, nxt) if n is not None and n > x[i]]
    lower = [n for n in (prev, nxt) if n is not None and n <= x[i]]
    if not higher:
        return dict(xytext=(0, 7), ha="center", va="bottom")
    if not lower:
        return dict(xytext=(0, -8), ha="center", va="top")
    if prev is not None and prev > x[i]:   # falling: every second point on the other side of the line
        return dict(xytext=(6, 5), ha="left", va="bottom") if i % 2 else dict(xytext=(-6, -5), ha="right", va="top")
    return dict(xytext=(6, -5), ha="left", va="top")


def labelled(kimg: np.ndarray, x: np.ndarray, spacing: float = 1.05) -> list[int]:
    """Which points get a value label: the first, the last and the lowest always; any other only
    when its kimg is at least `spacing` times the labelled one before it and the next always-
    labelled one is at least `spacing` times its own (on the log axis, closer labels overlap)."""
    forced = {0, len(kimg) - 1, int(np.argmin(x))}
    out = []
    for i in range(len(kimg)):
        nxt = min((f for f in forced if f > i), default=None)
        if i in forced or ((not out or kimg[i] >= kimg[out[-1]] * spacing)
                           and (nxt is None or kimg[nxt] >= kimg[i] * spacing)):
            out.append(i)
    return out


def drop_overlapping(fig, texts: list, keep: list[int], pad: float = 2.0) -> None:
    """Remove the value labels that would touch one already kept, as drawn (crowded points keep
    their markers; the printed table has every value). Labels in `keep` go first, then the rest
    from the right (the latest states are the ones read)."""
    renderer = fig.canvas.get_renderer()
    order = list(dict.fromkeys(keep + list(range(len(texts) - 1, -1, -1))))
    placed = []
    for i in order:
        box = texts[i].get_window_extent(renderer).expanded(1.0, 1.0).padded(pad)
        if any(box.overlaps(b) for b in placed):
            texts[i].remove()
        else:
            placed.append(box)


def staggered(ats: list[float], ratio: float = 1.06) -> list[bool]:
    """Which mark numbers drop below the top row: a line closer than `ratio` (on the log axis) to
    the one before takes the other row from it; any other stays on the top row."""
    low = []
    for i, at in enumerate(ats):
        low.append(not low[-1] if i and at / ats[i - 1] < ratio else False)
    return low


BRANCH_STYLES = [dict(marker="D", color="#d62728"), dict(marker="P", color="#2ca02c"), dict(marker="X", color="#e377c2"),
                 dict(marker="s", color="#17becf"), dict(marker="v", color="#bcbd22"), dict(marker="*", color="#7f7f7f"),
                 dict(marker="h", color="#ff7f0e"), dict(marker="<", color="#8c564b")]


def draw_branches(ax, branches: list[tuple], main: list[dict] = (), values: bool = False,
                  texts: list | None = None, key: str | None = None) -> list[float]:
    """Branches of the run (measured states of a side run from one of its states) as their own
    lines. A branch is (label, points) or (label, points, parent points): each is joined to the last
    state before it of its parent (another branch it split from) or else of the `main` run (where it
    branched off); with `values`, every value of the branch labelled (the labels appended to
    `texts`, when given, for drop_overlapping); with `key`, one legend entry for them all, that
    text (where another panel names each). Returns their distances, for the axis limits."""
    xs = []
    for (label, pts, *parent), style in zip(branches, itertools.cycle(BRANCH_STYLES)):   # every branch drawn
        bk, bx = [p["kimg"] for p in pts], [p["x_floor"] for p in pts]
        root = [p for p in (parent[0] if parent and parent[0] else main) if p["kimg"] < bk[0]][-1:]
        ax.plot([p["kimg"] for p in root] + bk, [p["x_floor"] for p in root] + bx, "-", lw=1,
                color=style["color"], zorder=1)
        name = f"branch: {label}" if key is None else (key if not xs else "_nolegend_")
        ax.plot(bk, bx, "", ms=5, lw=0, label=name, **style)
        if values:
            for kk, xx in zip(bk, bx):
                t = ax.annotate(f"{xx:.2f}", (kk, xx), textcoords="offset points", fontsize=7, ha="left",
                                xytext=(4, -3), va="top", color=style["color"])
                if texts is not None:
                    texts.append(t)
        xs += bx
    return xs


def zoom_panel(ax, pts: list[dict], marks: list[tuple[float, str]],
               branches: list[tuple[str, list[dict]]] = (), branch_values: bool = True) -> None:
    """The last stretch on linear axes, every value labelled: the distance (left axis) and, on the
    right axis, the spread (the samples' share of the real descriptors' variance) and the face rate.
    The branches' values are left to the branch panel when there is one (`branch_values` False)."""
    k = np.array([p["kimg"] for p in pts], float)
    x = np.array([p["x_floor"] for p in pts])
    ax.plot(k, x, "o-", color="#1f77b4", label="FD / floor (left)")
    for kk, xx, i in zip(k, x, range(len(k))):   # alternately above and below: states sit 5 kimg apart
        ax.annotate(f"{xx:.2f}", (kk, xx), textcoords="offset points", fontsize=7, ha="center",
                    xytext=(0, 6) if i % 2 == 0 else (0, -7), va="bottom" if i % 2 == 0 else "top")
    bx = draw_branches(ax, branches, pts, values=branch_values,
                       key=None if branch_values else "branches (named in the panel below)")
    ax.axhline(TARGET, color="green", lw=1)
    ax.set_ylim(min([TARGET, x.min()] + bx) - 0.1, max([x.max()] + bx) + 0.15)
    ax.set_ylabel("FD / floor")
    ax.set_xlabel("kimg (linear)")
    for i, (at, _) in enumerate(marks, 1):
        if k[0] <= at <= k[-1]:
            ax.axvline(at, color="grey", lw=0.8, ls="-.")
            ax.annotate(str(i), (at, 1.0), xycoords=("data", "axes fraction"), fontsize=7, color="dimgrey",
                        ha="center", va="top", bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="grey", lw=0.5))
    right = ax.twinx()
    right.plot(k, [p["spread"] for p in pts], "^-", color="#9467bd", ms=4, label="spread (right)")
    right.plot(k, [p["face_rate"] for p in pts], "v-", color="#8c564b", ms=4, label="face rate (right)")
    right.set_ylim(0.6, 1.0)
    right.set_ylabel("share")
    lines = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")] + right.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], fontsize=8, loc="upper left", bbox_to_anchor=(1.08, 1.0))
    ax.set_title(f"the last {k[-1] - k[0]:.0f} kimg, linear: the distance beside the spread and the face rate",
                 fontsize=9)
    ax.grid(alpha=0.3)


def branch_panel(ax, pts: list[dict], branches: list[tuple], start: float) -> tuple[list, list[int]]:
    """The branches alone on linear axes from `start` kimg: the run's states from there and every
    branch, each value labelled. Returns (the labels, the ones to keep first: the run's and each
    branch's last), for drop_overlapping once the figure is laid out."""
    own = [p for p in pts if p["kimg"] >= start]
    texts = [ax.annotate(f"{p['x_floor']:.2f}", (p["kimg"], p["x_floor"]), textcoords="offset points", fontsize=7,
                         ha="right", va="bottom", xytext=(-4, 3)) for p in own]
    ax.plot([p["kimg"] for p in own], [p["x_floor"] for p in own], "o-", color="#1f77b4", label="the run")
    keep = list(range(len(texts)))
    bx = draw_branches(ax, branches, pts, values=True, texts=texts)
    ends = np.cumsum([len(b[1]) for b in branches]) - 1 + len(own)
    keep += [int(e) for e in ends]
    ax.axhline(TARGET, color="green", lw=1)
    ys = [p["x_floor"] for p in own] + bx
    ax.set_ylim(min([TARGET] + ys) - 0.05, max(ys) + 0.08)
    ax.set_xlim(left=start - 2)
    ax.set_ylabel("FD / floor")
    ax.set_xlabel("kimg (linear)")
    ax.set_title(f"the branches from {start:g} kimg, each tried from a state of the run (crowded values dropped)",
                 fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.08, 1.0))
    ax.grid(alpha=0.3)
    return texts, keep


def carried_line(main: list[dict], chain: list[list[dict]]) -> list[dict]:
    """The states the carried run went through: the main run's up to where the first branch of
    `chain` split from it, then each branch's up to where the next split from it, then the last
    branch's all (chain: the branches' points, from the one that split from the main run on)."""
    line = list(main)
    for branch in chain:
        line = [p for p in line if p["kimg"] < branch[0]["kimg"]] + list(branch)
    return line


def fit_power_law(kimg: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """x = a * kimg**b, least squares in log-log: returns (a, b)."""
    b, log_a = np.polyfit(np.log(kimg), np.log(x), 1)
    return float(np.exp(log_a)), float(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("prefix", help="e.g. docs/quality/faces64v2")
    ap.add_argument("--out", required=True)
    ap.add_argument("--fit", type=int, default=3, help="fit the power law to the last N measurements")
    ap.add_argument("--zoom", type=float, metavar="KIMG",
                    help="a second panel, linear, of the states from KIMG on: the distance with every value, "
                         "and the two things read beside it (the spread, the face rate)")
    ap.add_argument("--mark", action="append", default=[], metavar="KIMG:LABEL",
                    help="a numbered vertical line at a recipe change, its label in the key, "
                         "e.g. --mark '191:lr 0.001' (repeatable)")
    ap.add_argument("--branch", action="append", default=[], metavar="PREFIX:LABEL[:FROM]",
                    help="the measurements of a side run (PREFIX-kimgNNN.json) drawn as their own line, "
                         "e.g. --branch 'docs/quality/faces64v2-b:replicate from 500' (repeatable); FROM, the "
                         "PREFIX of a branch given before it, when this one split from that branch")
    ap.add_argument("--branch-panel", type=float, metavar="KIMG",
                    help="a panel of the branches alone, linear, from KIMG on (where they crowd the zoom panel)")
    ap.add_argument("--carried", metavar="PREFIX",
                    help="the branch the run was carried on (one given with --branch): the power law is fitted "
                         "along the states the carried run went through, not the main run's last ones")
    a = ap.parse_args()
    pts = read_points(a.prefix)
    branches, by_prefix, parent_of = [], {}, {}
    for b in a.branch:
        prefix, _, rest = b.partition(":")
        label, _, parent = rest.partition(":")
        side = read_points(prefix)
        if not side:
            sys.exit(f"--branch {b!r}: no {prefix}-kimgNNN.json measurements")
        if parent and parent not in by_prefix:
            sys.exit(f"--branch {b!r}: it splits from {parent!r}, which is not a branch given before it")
        by_prefix[prefix], parent_of[prefix] = side, parent
        branches.append((label or os.path.basename(prefix), side, by_prefix.get(parent)))
    if len(pts) < 2:
        sys.exit(f"{a.prefix}: need at least two PREFIX-kimgNNN.json measurements, found {len(pts)}")
    k = np.array([p["kimg"] for p in pts], float)
    x = np.array([p["x_floor"] for p in pts])
    z = np.array([p["zero_x_floor"] for p in pts])
    fit_line = pts
    if a.carried:
        if a.carried not in by_prefix:
            sys.exit(f"--carried {a.carried!r}: not a branch given with --branch")
        chain, at = [], a.carried
        while at:
            chain.insert(0, by_prefix[at])
            at = parent_of[at]
        fit_line = carried_line(pts, chain)
    fk = np.array([p["kimg"] for p in fit_line], float)
    fx = np.array([p["x_floor"] for p in fit_line])
    n_fit = min(a.fit, len(fk))
    fit_what = f"the last {n_fit}" + (" carried states" if a.carried else "")
    fa, fb = fit_power_law(fk[-n_fit:], fx[-n_fit:])
    reach = (TARGET / fa) ** (1 / fb) if fb < 0 else float("inf")

    zoom = [p for p in pts if p["kimg"] >= a.zoom] if a.zoom is not None else []
    if a.zoom is not None and len(zoom) < 2:
        sys.exit(f"--zoom {a.zoom:g}: fewer than two measurements from there on")
    if a.branch_panel is not None and not branches:
        sys.exit(f"--branch-panel {a.branch_panel:g}: no --branch to draw")
    heights = [4.5] + [3.5] * bool(zoom) + [3.5] * (a.branch_panel is not None)
    fig, axes = plt.subplots(len(heights), 1, figsize=(10.5, sum(heights)), gridspec_kw=dict(height_ratios=heights),
                             squeeze=False)
    ax, rest = axes[0][0], [row[0] for row in axes[1:]]
    ax.plot(k, x, "o-", label="samples (noise as trained)", color="#1f77b4")
    ax.plot(k, z, "s--", label="every noise input zeroed", color="#ff7f0e", ms=4)
    shown = labelled(k, x)
    labels = [ax.annotate(f"{x[i]:.1f}x" if x[i] >= 10 else f"{x[i]:.2f}x", (k[i], x[i]),
                          textcoords="offset points", fontsize=8, **label_side(x, i)) for i in shown]
    marks = []
    for mark in a.mark:
        at, _, label = mark.partition(":")
        try:
            marks.append((float(at), label))
        except ValueError:
            sys.exit(f"--mark {mark!r}: expected KIMG:LABEL, e.g. '191:lr 0.001'")
    marks.sort()
    # each line gets a number at the top (staggered when lines crowd) and a key in the corner:
    # full labels beside lines a few kimg apart overlap each other and the legend
    for i, ((at, _), low) in enumerate(zip(marks, staggered([m[0] for m in marks])), 1):
        ax.axvline(at, color="grey", lw=0.8, ls="-.")
        ax.annotate(str(i), (at, 14), fontsize=7, color="dimgrey", ha="center", va="bottom",
                    textcoords="offset points", xytext=(0, -12 if low else 1),
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="grey", lw=0.5))
    if marks:
        ax.text(1.02, 0.0, "recipe changes\n" + "\n".join(f"{i}: {at:g} kimg, {label}"
                                                          for i, (at, label) in enumerate(marks, 1)),
                transform=ax.transAxes, fontsize=8, ha="left", va="bottom", color="dimgrey",
                bbox=dict(boxstyle="round", fc="white", ec="lightgrey"))
    # extended to the 3x crossing when the fit falls; across the fitted points only when it does not
    kk = np.geomspace(fk[-n_fit], min(max(reach, fk[-1]) * 1.1, 20 * fk[-1]) if np.isfinite(reach) else fk[-1], 50)
    ax.plot(kk, fa * kk ** fb, ":", color="grey",
            label=f"power law through {fit_what}\n(x ~ kimg^{fb:.2f})"
                  + (f": 3x near {reach:.0f} kimg" if np.isfinite(reach) else ": not falling"))
    draw_branches(ax, branches, pts, key="branches (named in the panels below)" if a.branch_panel is not None else None)
    ax.axhline(TARGET, color="green", lw=1, label="target: 3x the floor")
    ax.axhline(5.0, color="green", lw=1, ls="--", label="target with noise zeroed: 5x")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_yticks([2, 3, 5, 7, 10, 15])
    lo, hi = ax.get_xlim()
    ax.set_xticks([t for t in (20, 50, 100, 200, 300, 400, 600, 1000, 2000, 5000) if lo <= t <= hi])
    ax.get_xaxis().set_major_formatter(plt.matplotlib.ticker.ScalarFormatter())
    ax.get_xaxis().set_minor_formatter(plt.matplotlib.ticker.NullFormatter())
    ax.get_yaxis().set_major_formatter(plt.matplotlib.ticker.ScalarFormatter())
    ax.get_yaxis().set_minor_formatter(plt.matplotlib.ticker.NullFormatter())
    ax.set_xlabel("kimg (thousands of real images shown to D)")
    ax.set_ylabel("Frechet descriptor distance / floor")
    ax.set_title(f"{os.path.basename(a.prefix)}: dlib-descriptor FD on 1,000 samples, x the real-vs-real floor",
                 fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))   # legend and key beside the plot
    if zoom:
        zoom_panel(rest.pop(0), zoom, marks, branches, branch_values=a.branch_panel is None)
    if a.branch_panel is not None:
        branch_texts, branch_keep = branch_panel(rest.pop(0), pts, branches, a.branch_panel)
    fig.tight_layout()
    fig.subplots_adjust(right=0.66)
    drop_overlapping(fig, labels, keep=[shown.index(i) for i in (0, len(k) - 1, int(np.argmin(x)))])
    if a.branch_panel is not None:
        drop_overlapping(fig, branch_texts, keep=branch_keep)
    _save(fig, a.out)
    for p in pts:
        print(f"{p['kimg']:>6} kimg  {p['x_floor']:5.2f}x  zeroed {p['zero_x_floor']:5.2f}x  "
              f"faces {p['face_rate']:.3f}  spread {p['spread']:.3f}  memorised {p['memorisation']:.1%}")
    print(f"power law through {fit_what}: x = {fa:.3g} * kimg^{fb:.3f}; "
          + (f"3x near {reach:.0f} kimg (an extension of a line, not a prediction)" if np.isfinite(reach)
             else "not falling, so no 3x crossing to extend to"))


if __name__ == "__main__":
    main()
