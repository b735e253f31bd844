"""The main job of the README: a short foil run on the embedded default model.

    uncanny demo                 # about 5 minutes on 2 CPU cores, writes runs/demo

It is `uncanny foil` on the default model (faces64v2) with the linear inverted loss (`--loss
hinge`: minimise D's logit, as for the WGAN critic of the paper's StyleGAN 1, so gradients never
saturate), 200 iterations instead of the paper's 2000, and a learning rate that ramps up over the
run (mean 4.5e-4, `--lr-schedule ramp`): the faces stay lifelike for the first quarter, turn
uncanny in the middle, are gone only in the last third and collapse before the end. The setting
was chosen by a measured sweep of loss x learning rate x schedule on the shipped state of the
default (docs/FOIL_SWEEP.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .foil import FoilConfig, FoilResult, foil
from .options import option
from .registry import DEFAULT
from .runs import RunFolder

DEMO = dict(model=DEFAULT, iters=200, lr=0.00045, lr_schedule="ramp", loss="hinge", batch=8,
            snapshots=(0, 25, 50, 75, 100, 125, 150, 175, 200), frame_every=5, observe_every=5, faces_every=25,
            population_size=64)


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
