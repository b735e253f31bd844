"""Plots people would rather look at than read (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STAGE_COLOURS = {"divergence": "#cfe8ff", "convergence": "#ffe3b3", "collapse": "#ffc9c9"}


def _save(fig, path: str, dpi: int = 90) -> None:
    """Write the figure atomically (a half-written PNG never replaces a good one) and close it."""
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, path)


def _col(rows, key):
    out = []
    for r in rows:
        try:
            v = float(r.get(key, ""))
        except (TypeError, ValueError):
            v = float("nan")
        out.append(v)
    return np.array(out, dtype=float)


def plot_foil_curves(rows: list[dict], stages: dict[int, str], peak: int, path: str, title: str = "foil") -> None:
    """Six panels over iterations with the stages shaded and the peak-uncanny snapshot marked."""
    it = _col(rows, "iter")
    fig, axes = plt.subplots(3, 2, figsize=(12, 9), sharex=True)
    panels = [
        ("inverted loss", [("loss", "loss", None)]),
        ("D logit (higher = real)", [("d_mean", "batch mean", None), ("d_fixed", "fixed seeds", None)]),
        ("gradient norm (log)", [("grad_norm", "global grad norm", None)]),
        ("distance from start", [("param_dist", "L2 of G params", None)]),
        ("diversity & human-likeness", [("diversity", "diversity (pairwise RMS)", None),
                                        ("sameness", "sameness (thumbnails' correlation)", "grey"),
                                        ("face_rate", "dlib face-detection rate", None),
                                        ("detector_fake", "detector's fake score (> 0.5 = fake)", "black")]),
        ("mean colour", [("mean_r", "R", "red"), ("mean_g", "G", "green"), ("mean_b", "B", "blue")]),
    ]
    snaps = sorted(stages)
    bounds = snaps + [it.max() if len(it) else 0]
    for ax, (name, series) in zip(axes.flat, panels):
        for i, s in enumerate(snaps):  # a stage holds from its snapshot to the next one
            ax.axvspan(s, bounds[i + 1] if i + 1 < len(bounds) else s, color=STAGE_COLOURS.get(stages[s], "#eee"),
                       alpha=0.6, lw=0)
        for key, lab, colour in series:
            y = _col(rows, key)
            m = np.isfinite(y)
            if key == "d_mean" and m.any():
                std = _col(rows, "d_std")
                ax.fill_between(it[m], (y - std)[m], (y + std)[m], alpha=0.2, color="grey")
            marker = "o" if key in ("face_rate", "detector_fake") else None
            if m.any():
                ax.plot(it[m], y[m], label=lab, color=colour, marker=marker, ms=3, lw=1.2)
        if name.startswith("gradient"):
            y = _col(rows, "grad_norm")
            if np.isfinite(y).any() and np.nanmin(y) > 0:
                ax.set_yscale("log")
            bad = ~np.isfinite(y) & np.isfinite(_col(rows, "loss")) | (_col(rows, "skipped") > 0)
            for x in it[bad]:
                ax.axvline(x, color="red", lw=0.5, alpha=0.5)
        if name.startswith(("inverted loss", "D logit")):   # an explosion would flatten the rest of the run
            ys = np.concatenate([_col(rows, k) for k, _, _ in series])
            ys = ys[np.isfinite(ys)]
            if len(ys) and np.abs(ys).max() > 1e3:
                ax.set_yscale("symlog", linthresh=10)
                name += " (symlog)"
        ax.axvline(peak, color="purple", ls="--", lw=1.2)
        ax.set_title(name, fontsize=10)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("iteration")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.6) for c in STAGE_COLOURS.values()]
    handles.append(plt.Line2D([0], [0], color="purple", ls="--"))
    fig.legend(handles, [*STAGE_COLOURS, f"peak uncanny (iter {peak})"], loc="upper center", ncol=4, fontsize=9,
               bbox_to_anchor=(0.5, 0.965))
    fig.suptitle(title, y=0.995)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    _save(fig, path, dpi=90)


def _smooth(y: np.ndarray, n: int) -> np.ndarray:
    """Running mean over n points (NaNs skipped), same length as y; NaN where y is (no line drawn
    where nothing was logged)."""
    if n <= 1 or len(y) < n:
        return y
    ok = np.isfinite(y)
    c = np.convolve(np.where(ok, y, 0.0), np.ones(n), "same")
    k = np.convolve(ok.astype(float), np.ones(n), "same")
    return np.where((k > 0) & ok, c / np.maximum(k, 1), np.nan)


def plot_train_log(rows: list[dict], path: str, title: str = "training") -> None:
    """log.csv against kimg: the two losses, D's logits on reals and fakes, the seconds per kimg and,
    once logged, D's mean sign on the rows it is told are real (r_t) with APA's swap probability p. Faint lines are
    the logged values, solid lines their running mean (about 1% of the run)."""
    k = _col(rows, "kimg")
    n = max(1, len(rows) // 100)
    panels = ((("loss_d", "loss_g"), "losses"), (("d_real", "d_fake"), "D logits (real above fake: D tells them apart)"),
              (("sec_per_kimg",), "seconds per kimg (wall time training)"))
    if np.isfinite(_col(rows, "r_t")).any():    # logs from before these columns have none
        panels += ((("r_t", "apa_p"), "r_t: D's mean sign on what it is told is real; APA's p"),)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.7 * len(panels), 3.6))
    # log.csv keeps the running mean of seconds per kimg (rounded): the rate is the slope of mean x kimg,
    # taken over n rows so that the rounding does not swamp it
    seconds = _col(rows, "sec_per_kimg") * k
    m = max(n, 5)
    rate = np.full(len(k), np.nan)
    if len(k) > m:
        rate[m:] = (seconds[m:] - seconds[:-m]) / np.maximum(k[m:] - k[:-m], 1e-9)
    for ax, (keys, name) in zip(axes, panels):
        for key in keys:
            y = rate if key == "sec_per_kimg" else _col(rows, key)
            line, = ax.plot(k, y if key == "sec_per_kimg" else _smooth(y, n), label=key, lw=1.2)
            if n > 1 and key != "sec_per_kimg":
                ax.plot(k, y, color=line.get_color(), lw=0.5, alpha=0.25)
        ax.set_title(name, fontsize=10)
        if np.isfinite(k).any() and np.nanmax(k) > np.nanmin(k):  # one kimg axis for every panel, also where a column starts late
            ax.set_xlim(np.nanmin(k), np.nanmax(k))
        ax.set_xlabel("kimg (thousands of real images shown to D)")
        ax.grid(alpha=0.3)
        if len(keys) > 1:
            ax.legend()
        if keys == ("sec_per_kimg",):   # spikes are the machine busy with other work; the floor is the rate
            lo, hi = 0.0, 3 * np.nanmedian(rate) if np.isfinite(rate).any() else 1.0
        elif keys == ("r_t", "apa_p"):  # both live in [-1, 1]
            lo, hi = -1.0, 1.0
        else:
            lo, hi = np.nanpercentile(np.concatenate([_col(rows, key) for key in keys]), [0.5, 99.5])
        if np.isfinite(lo) and np.isfinite(hi) and hi > lo:  # early spikes would flatten the rest
            ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path, dpi=90)


def plot_identity(rows: list[dict], ident_step: int | None, path: str) -> None:
    """A projection's identity curves (plain, transformed, judged) and PSNR over the search."""
    from .identity import DISAGREE, IDENTITY_THRESHOLD, TRANSFORM_WORDS, TRANSFORMS
    steps = [r["step"] for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [2, 1]})
    a = ax[0]
    a.plot(steps, [r["identity"] for r in rows], color="C0", lw=1, label="plain (the network the loss optimises)")
    for n, c in zip(TRANSFORMS, ("C1", "C2")):
        a.plot(steps, [r[f"identity_{n}"] for r in rows], color=c, lw=0.8, alpha=0.7, label=f"both images {TRANSFORM_WORDS[n]}")
    a.plot(steps, [r["identity_judged"] for r in rows], color="black", lw=1.8,
           label="judged: worse of the transformed")
    lost = [(r["step"], r["identity"]) for r in rows if not r.get("face_found", 1)]
    if lost:  # measured at the target's landmarks: dlib's detector found no face in the frame
        a.scatter(*zip(*lost), s=18, facecolors="white", edgecolors="C0", zorder=3,
                  label="no face detected (measured at the target's landmarks)")
    flagged = [(r["step"], r["identity_judged"]) for r in rows if r.get("disagree")]
    if flagged:
        a.scatter(*zip(*flagged), s=14, marker="x", color="red", zorder=4,
                  label=f"plain and transformed differ by > {DISAGREE} ({len(flagged)} frames)")
    a.axhline(IDENTITY_THRESHOLD, color="red", ls="--", lw=1, label="same person (0.6)")
    if ident_step is not None:
        a.axvline(ident_step, color="green", lw=1, label=f"identifiable (judged) from step {ident_step} on")
    a.set_xlabel("step")
    a.set_ylabel("dlib identity distance to the target")
    a.legend(fontsize=7, loc="upper right")
    ax[1].plot(steps, [r["psnr"] for r in rows], color="purple")
    ax[1].set_title("PSNR (dB)")
    ax[1].set_xlabel("step")
    for x in ax:
        x.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path, dpi=90)


def plot_descriptor_spread(real: np.ndarray, samples: np.ndarray, path: str, title: str = "", k: int = 4) -> None:
    """Where the samples' face descriptors lie against the real photos', along the real set's first
    `k` principal directions: one histogram pair per direction, titled with the samples' share of
    the real variance along it (1 = as varied as the photos). A narrow sample histogram is the
    variety a Frechet distance misses; a shifted one is a shifted average face."""
    from .metrics import main_directions
    centre = real.mean(0)
    directions = main_directions(real)[1][:, :k]
    fig, axes = plt.subplots(1, directions.shape[1], figsize=(3.2 * directions.shape[1], 2.8), squeeze=False)
    for rank, (ax, d) in enumerate(zip(axes[0], directions.T)):
        r, s = (real - centre) @ d, (samples - centre) @ d   # (N,) projections
        bins = np.linspace(min(r.min(), s.min()), max(r.max(), s.max()), 30)
        ax.hist(r, bins, density=True, alpha=0.5, color="#2ca02c", label=f"real photos ({len(r)})")
        ax.hist(s, bins, density=True, alpha=0.5, color="#1f77b4", label=f"samples ({len(s)})")
        share = s.var() / r.var() if r.var() > 0 else float("nan")   # photos all alike: no share to give
        ax.set_title(f"direction {rank + 1}: samples reach {share:.2f} of the variance", fontsize=9)
        ax.set_yticks([])
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="upper right", ncol=2, fontsize=8, frameon=False)
    fig.suptitle(title or "dlib descriptors along the real photos' main directions", fontsize=10, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    _save(fig, path)
