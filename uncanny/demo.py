"""The main job of the README: a short foil run on the embedded default model.

    uncanny demo                 # about 5 minutes on 2 CPU cores, writes runs/demo

It is `uncanny foil --model faces64` with the linear inverted loss (`--loss hinge`: minimise
D's logit, as for the WGAN critic of the paper's StyleGAN 1, so gradients never saturate), a
low learning rate and 300 iterations instead of the paper's 2000, so that divergence,
convergence and collapse all happen within a few minutes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .foil import FoilConfig, FoilResult, foil
from .options import option
from .runs import RunFolder

DEMO = dict(model="faces64", iters=300, lr=0.0005, loss="hinge", batch=8,
            snapshots=(0, 25, 50, 75, 100, 150, 200, 300), frame_every=5, faces_every=25, population_size=64)


@dataclass
class DemoConfig:
    out: str = option("runs/demo", "run folder (when it holds a run already: out-2, out-3, ...)")
    device: str | None = option(None, "cpu, cuda, cuda:1 (default: cuda if available)")


def fresh_folder(out: str) -> str:
    """`out` if it is empty or missing, else the first of out-2, out-3, ... that is: the demo
    never replaces a run, its own earlier ones included."""
    if not RunFolder(out, "foil").has_content() and not (os.path.exists(out) and not os.path.isdir(out)):
        return out
    n = 2
    while os.path.exists(f"{out}-{n}"):
        n += 1
    return f"{out}-{n}"


def demo(out: str = "runs/demo", device: str | None = None, show_progress: bool = True) -> FoilResult:
    """Run the demo into `out`, or into out-2, out-3 ... when `out` already holds something."""
    folder = fresh_folder(out)
    if folder != out and show_progress:
        print(f"{out} already holds a run: writing this one to {folder}")
    return foil(FoilConfig(out=folder, device=device, **DEMO), show_progress=show_progress)
