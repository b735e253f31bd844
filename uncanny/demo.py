"""The main job of the README: a short foil run on the embedded default model.

    uncanny demo                 # about 5 minutes on 2 CPU cores, writes runs/demo

It is `uncanny foil --model faces64` with the linear inverted loss (`--loss hinge`: minimise
D's logit, as for the WGAN critic of the paper's StyleGAN 1, so gradients never saturate), a
low learning rate and 300 iterations instead of the paper's 2000, so that divergence,
convergence and collapse all happen within a few minutes.
"""

from __future__ import annotations

import os

from .foil import FoilConfig, FoilResult, foil

DEMO = dict(model="faces64", iters=300, lr=0.0005, loss="hinge", batch=8,
            snapshots=(0, 25, 50, 75, 100, 150, 200, 300), frame_every=5, faces_every=25, population_size=64)


def demo(out: str = "runs/demo", device: str | None = None, show_progress: bool = True) -> FoilResult:
    overwrite = os.path.isfile(os.path.join(out, "run.json"))  # re-running the demo replaces its own run
    return foil(FoilConfig(out=out, device=device, overwrite=overwrite, **DEMO), show_progress=show_progress)
