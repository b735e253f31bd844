"""Projection speed: optimisation steps per second on the default model (CPU, and GPU if asked).

    python benchmarks/bench_project.py                 # faces64 on the CPU, appends to docs/BENCHMARKS.md
    python benchmarks/bench_project.py --device cuda --model faces64

One step = synthesis from the latent (W or W+) and noise maps, pixel + MS-SSIM + D-feature loss,
noise regularisation, backward, Adam, noise renormalisation (uncanny.project.project_one), without
the per-frame identity measurement (dlib, every --every steps), which is timed separately.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from report import add_malloc_option, append_section, apply_malloc  # noqa: E402  (benchmarks/report.py)
from uncanny.adapters import load_gan  # noqa: E402
from uncanny.identity import IdentityMeter  # noqa: E402
from uncanny.project import ProjectConfig, load_target, project_one  # noqa: E402


class _NoFrames:
    """An IdentityMeter stand-in that keeps what the identity term needs (the target's face and
    descriptor) but does not measure frames: their cost is timed separately below."""

    def __init__(self, meter):
        self.__dict__.update(meter.__dict__)

    def __call__(self, frame):
        return float("nan"), False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="faces64")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--no-write", action="store_true")
    add_malloc_option(ap)
    a = ap.parse_args()
    apply_malloc(a.malloc)
    import matplotlib
    hopper = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "sample_data", "grace_hopper.jpg")
    gan = load_gan(a.model, device=a.device)
    target = load_target(hopper, gan.config.get("size", 64))
    w_spread = gan.w_spread()
    meter = IdentityMeter(target)
    rows = []
    for w_plus, id_weight in ((False, 1.0), (True, 1.0), (False, 0.0)):
        cfg = ProjectConfig(images=[hopper], model=a.model, steps=a.steps, every=10 ** 9, w_plus=w_plus,
                            id_weight=id_weight, device=a.device)
        name = ("W+" if w_plus else "W") + (" (default loss)" if id_weight else " without the identity term")
        step_meter = _NoFrames(meter)  # the identity term needs the target's descriptor; frames are not timed here
        t = time.perf_counter()
        project_one(gan, target, cfg, None, w_spread, step_meter, lambda *x: None, show_progress=False)
        dt = (time.perf_counter() - t) / a.steps
        rows.append((name, dt))
        print(f"{name:<32} {1 / dt:.1f} steps/s ({dt * 1000:.0f} ms/step)", flush=True)
    frame = np.asarray(target)
    t = time.perf_counter()
    for _ in range(5):
        meter(frame)
    t_id = (time.perf_counter() - t) / 5
    print(f"identity measurement per frame: {t_id * 1000:.0f} ms")
    if not a.no_write:
        append_section(f"projection on {a.model}, device {a.device}, malloc {a.malloc}", ["latent", "steps / s", "ms / step"],
                       [[name, f"{1 / dt:.1f}", f"{dt * 1000:.0f}"] for name, dt in rows],
                       f"dlib identity measurement: {t_id * 1000:.0f} ms per saved frame (every 10 steps by default). "
                       f"A default 1000-step projection therefore takes about "
                       f"{(1000 * rows[0][1] + 100 * t_id) / 60:.1f} min per face in W.")

if __name__ == "__main__":
    main()
