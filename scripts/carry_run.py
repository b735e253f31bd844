"""Carry a training run between machines through the repository (the next session may be on a
new machine; runs/ is not committed).

    python scripts/carry_run.py pack runs/faces64v2 training/faces64v2     # end of a session
    python scripts/carry_run.py unpack training/faces64v2 runs/faces64v2   # start of the next
    uncanny train data/celeba64 --out runs/faces64v2 --resume

`pack` keeps what resuming needs and what tells the run's story, small enough to commit:
G, G_ema and D from resume.safetensors in float16 (about half the bytes; a one-time rounding of
2^-11 relative, well under one Adam step), the step, clock and RNG state, the mean path length,
log.csv, run.json and the sample grids. It drops the optimiser moments: with Adam betas (0, 0.99)
the first moment is just the last gradient and the second is re-estimated within ~100 steps
(bias correction makes the first steps normalised ones), so a resumed run goes on as before.
Snapshots are not carried (ship the ones worth keeping with scripts/ship_model.py).

`unpack` refuses to overwrite a run folder that already has a newer state.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from uncanny.runs import SAMPLES_DIR, SNAPSHOT_DIR  # noqa: E402
from uncanny.util import atomic_write_bytes  # noqa: E402

NETS = ("g.", "g_ema.", "d.")
FILES = ("log.csv", "run.json")


def _info(path):
    with safe_open(path, "pt") as f:
        return json.loads(f.metadata()["uncanny_state"])["info"]


def pack(run, dst):
    src = os.path.join(run, "resume.safetensors")
    if not os.path.isfile(src):
        sys.exit(f"{src}: no resume state to carry")
    tensors = load_file(src)
    with safe_open(src, "pt") as f:
        meta = dict(f.metadata())
    kept = {}
    for k, v in tensors.items():
        if k.startswith(NETS):
            kept[k] = v.half() if v.is_floating_point() else v
        elif k.startswith("extra."):
            kept[k] = v
    state = json.loads(meta["uncanny_state"])
    state["param_groups"] = {}  # no optimiser state carried: Adam starts afresh (see the docstring)
    state["info"]["carried"] = "float16 weights, optimiser moments dropped"
    os.makedirs(os.path.join(dst, SAMPLES_DIR), exist_ok=True)
    atomic_write_bytes(os.path.join(dst, "resume.safetensors"), save(kept, metadata={"uncanny_state": json.dumps(state)}))
    for name in FILES:
        if os.path.isfile(os.path.join(run, name)):
            shutil.copy2(os.path.join(run, name), os.path.join(dst, name))
    for name in sorted(os.listdir(os.path.join(run, SAMPLES_DIR))):
        shutil.copy2(os.path.join(run, SAMPLES_DIR, name), os.path.join(dst, SAMPLES_DIR, name))
    size = os.path.getsize(os.path.join(dst, "resume.safetensors")) / 1e6
    print(f"packed step {state['info']['step']} of {run} into {dst} ({size:.1f} MB of weights)")


def unpack(src, run):
    state = os.path.join(src, "resume.safetensors")
    if not os.path.isfile(state):
        sys.exit(f"{state}: nothing to unpack")
    mine = os.path.join(run, "resume.safetensors")
    if os.path.isfile(mine) and _info(mine)["step"] >= _info(state)["step"]:
        sys.exit(f"{mine}: already at step {_info(mine)['step']} (carried state: step {_info(state)['step']}); left alone")
    os.makedirs(os.path.join(run, SAMPLES_DIR), exist_ok=True)
    os.makedirs(os.path.join(run, SNAPSHOT_DIR), exist_ok=True)
    for name in FILES + ("resume.safetensors",):
        if os.path.isfile(os.path.join(src, name)):
            shutil.copy2(os.path.join(src, name), os.path.join(run, name))
    for name in sorted(os.listdir(os.path.join(src, SAMPLES_DIR))):
        shutil.copy2(os.path.join(src, SAMPLES_DIR, name), os.path.join(run, SAMPLES_DIR, name))
    print(f"unpacked step {_info(state)['step']} into {run}; continue with: "
          f"uncanny train DATA --out {run} --resume")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("action", choices=["pack", "unpack"])
    ap.add_argument("src")
    ap.add_argument("dst")
    a = ap.parse_args()
    torch.set_num_threads(1)
    (pack if a.action == "pack" else unpack)(a.src, a.dst)


if __name__ == "__main__":
    main()
