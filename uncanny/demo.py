"""The main job of the README: a short foil run on the embedded default model.

    uncanny demo                 # about 5 minutes on 2 CPU cores, writes runs/demo

It is `uncanny foil --model faces64` with the linear inverted loss (`--loss hinge`: minimise
D's logit, as for the WGAN critic of the paper's StyleGAN 1, so gradients never saturate), a
low learning rate and 300 iterations instead of the paper's 2000, so that divergence,
convergence and collapse all happen within a few minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UncannyError
from .foil import FoilConfig, FoilResult, foil
from .options import option
from .runs import RunFolder, recorded_verb

DEMO = dict(model="faces64", iters=300, lr=0.0005, loss="hinge", batch=8,
            snapshots=(0, 25, 50, 75, 100, 150, 200, 300), frame_every=5, faces_every=25, population_size=64)


@dataclass
class DemoConfig:
    out: str = option("runs/demo", "run folder (re-running the demo replaces its own earlier run)")
    device: str | None = option(None, "cpu, cuda, cuda:1 (default: cuda if available)")


def is_demo_run(out: str) -> bool:
    """Does `out` hold a run this demo wrote (a foil run with the demo's settings)?"""
    if recorded_verb(out) != "foil":
        return False
    config = RunFolder(out, "foil").read_json("run.json").get("config", {})
    return all(config.get(k) == (list(v) if isinstance(v, tuple) else v) for k, v in DEMO.items())


def demo(out: str = "runs/demo", device: str | None = None, show_progress: bool = True) -> FoilResult:
    """Run the demo into `out`; re-running it replaces its own earlier run, never anything else."""
    overwrite = is_demo_run(out)
    if not overwrite and RunFolder(out, "foil").has_content():
        raise UncannyError(f"{out}: holds something that is not an earlier demo run; "
                           f"give the demo another folder with --out")
    return foil(FoilConfig(out=out, device=device, overwrite=overwrite, **DEMO), show_progress=show_progress)
