"""The main job of the README: a short foil run on the embedded default model.

    uncanny demo                 # about 5 minutes on 2 CPU cores, writes runs/demo

It is `uncanny foil --model faces64` with a compressed schedule (a higher learning rate and
fewer iterations than the paper's 2000) so that divergence, convergence and collapse all
happen within minutes.
"""

from __future__ import annotations

import os

from .foil import FoilConfig, FoilResult, foil

DEMO = dict(model="faces64", iters=400, lr=0.004, batch=8, snapshots=(0, 50, 100, 150, 200, 300, 400),
            frame_every=5, faces_every=25, population_size=64)


def demo(out: str = "runs/demo", device: str | None = None, show_progress: bool = True) -> FoilResult:
    overwrite = os.path.isfile(os.path.join(out, "run.json"))  # re-running the demo replaces its own run
    return foil(FoilConfig(out=out, device=device, overwrite=overwrite, **DEMO), show_progress=show_progress)
