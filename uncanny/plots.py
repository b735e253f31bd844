"""Plots people would rather look at than read (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STAGE_COLOURS = {"divergence": "#cfe8ff", "convergence": "#ffe3b3", "collapse": "#ffc9c9"}


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
                                        ("face_rate", "dlib face-detection rate", None)]),
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
            marker = "o" if key == "face_rate" else None
            if m.any():
                ax.plot(it[m], y[m], label=lab, color=colour, marker=marker, ms=3, lw=1.2)
        if name.startswith("gradient"):
            y = _col(rows, "grad_norm")
            if np.isfinite(y).any() and np.nanmin(y) > 0:
                ax.set_yscale("log")
            bad = ~np.isfinite(y) & np.isfinite(_col(rows, "loss")) | (_col(rows, "skipped") > 0)
            for x in it[bad]:
                ax.axvline(x, color="red", lw=0.5, alpha=0.5)
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
    fig.savefig(path + ".tmp.png", dpi=90)
    plt.close(fig)
    import os
    os.replace(path + ".tmp.png", path)


def plot_train_log(rows: list[dict], path: str) -> None:
    """Training losses and D logits against kimg."""
    k = _col(rows, "kimg")
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    for key in ("loss_d", "loss_g"):
        axes[0].plot(k, _col(rows, key), label=key, lw=0.8)
    for key in ("d_real", "d_fake"):
        axes[1].plot(k, _col(rows, key), label=key, lw=0.8)
    for ax, t in zip(axes, ("losses", "D logits")):
        ax.set_title(t)
        ax.set_xlabel("kimg")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
