"""Carry a training run between machines through the repository (the next session may be on a
new machine; runs/ is not committed).

    python scripts/carry_run.py pack runs/faces64v2 training/faces64v2     # end of a session
    python scripts/carry_run.py unpack training/faces64v2 runs/faces64v2   # start of the next
    uncanny train data/celeba64 --out runs/faces64v2 --resume

`pack` keeps what resuming needs and what tells the run's story, small enough to commit:
G, G_ema and D from resume.safetensors in float16 (about half the bytes; a rounding of 2^-11
relative, well under one Adam step of the synthesis network), except G's mapping network, kept in
float32: it learns at 1/100 of the rate (StyleGAN's lr_mlp 0.01) and moves less in a session than
float16's step, so rounding it at every carry put most of it back where the session found it
(72-75% of its weights, faces64v2 381.9 -> 415.1 kimg); it is 1.5% of the weights. Then the step,
clock and RNG state, the mean path length, log.csv, run.json and the sample grids. It drops the
optimiser moments: with Adam betas (0, 0.99) the first moment is just the last gradient and the
second is re-estimated within ~100 steps (bias correction makes the first steps normalised ones),
so a resumed run goes on as before.
Snapshots are not carried (ship the ones worth keeping with scripts/ship_model.py).

`pack --snapshot` carries the run rolled back to one of its own snapshots instead, when the
steps after it made the model worse: G, G_ema and D from the snapshot, the step, image count and
clock it was written at, log rows and sample grids up to it; the rest (APA's state, the mean path
length) from the resume state. run.json records the roll-back in `recipe_changes`:

    python scripts/carry_run.py pack runs/faces64v2 training/faces64v2 --snapshot runs/faces64v2/snapshots/kimg-000500.safetensors

`unpack` refuses to overwrite a run folder that already has a newer state.

`state` turns a carried state into a snapshot checkpoint (G, G_ema and D, float32, w_avg) that
every verb loads; with --rev, the state of an earlier carry commit (the history keeps each
session's state: the early and middle training states for foiling, issue 11):

    python scripts/carry_run.py state training/faces64v2 states/faces64v2-kimg048.safetensors --rev ecbb5fe
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
from uncanny.nets.stylegan2 import MAPPING  # noqa: E402
from uncanny.runs import SAMPLES_DIR, SNAPSHOT_DIR, RunFolder, snapshot_images  # noqa: E402
from uncanny.train import LOG_COLUMNS, log_upto  # noqa: E402
from uncanny.util import atomic_write_bytes, atomic_write_text  # noqa: E402

NETS = ("g.", "g_ema.", "d.")
FILES = ("log.csv", "run.json")
FULL_PRECISION = ("g." + MAPPING, "g_ema." + MAPPING)   # the mapping network (see the docstring)


def _info(path):
    with safe_open(path, "pt") as f:
        return json.loads(f.metadata()["uncanny_state"])["info"]


def _rolled_back(tensors, state, snapshot, run_info):
    """The resume state's tensors and record with the nets, step, image count and clock of
    `snapshot` (a snapshot of the same run, no later than the state)."""
    from uncanny.checkpoint import read_checkpoint
    from uncanny.errors import UncannyError
    try:
        ck = read_checkpoint(snapshot)
    except UncannyError as e:
        sys.exit(str(e))
    at = (ck.header.get("training") or {})
    if ck.config != run_info.get("arch") or "step" not in at or at["step"] > state["info"]["step"]:
        sys.exit(f"{snapshot}: not a snapshot of this run at or before its state (step {state['info']['step']})")
    snap = {f"{net}.{k}": v for net, sd in ck.state.items() for k, v in sd.items()}   # read once, by read_checkpoint
    missing = sorted(k for k in tensors if k.startswith(NETS) and k not in snap)
    if missing:
        sys.exit(f"{snapshot}: lacks {len(missing)} of the state's weights ({', '.join(missing[:3])}, ...)")
    tensors = {**tensors, **{k: snap[k] for k in tensors if k.startswith(NETS)}}
    info = {**state["info"], "step": at["step"], "seconds": at["seconds"], "nimg": round(at["kimg"] * 1000),
            "rolled_back": {"from_step": state["info"]["step"], "to": os.path.basename(snapshot)}}
    return tensors, {**state, "info": info}


def _upto(filename, snapshot):
    """Whether a sample grid was written no later than `snapshot` (both named by runs.snapshot_name)."""
    a = snapshot_images(filename)
    return a is None or a <= snapshot_images(snapshot)


def pack(run, dst, snapshot=None):
    src = os.path.join(run, "resume.safetensors")
    if not os.path.isfile(src):
        sys.exit(f"{src}: no resume state to carry")
    tensors = load_file(src)
    with safe_open(src, "pt") as f:
        meta = dict(f.metadata())
    state = json.loads(meta["uncanny_state"])
    with open(os.path.join(run, "run.json")) as f:
        run_info = json.load(f)
    if snapshot:
        tensors, state = _rolled_back(tensors, state, snapshot, run_info)
        back = state["info"]["rolled_back"]
        run_info.setdefault("recipe_changes", []).append(
            {"step": back["from_step"], "rolled_back_to_step": [back["from_step"], state["info"]["step"]],
             "snapshot": back["to"]})
    kept = {}
    for k, v in tensors.items():
        if k.startswith(NETS):
            kept[k] = v.half() if v.is_floating_point() and not k.startswith(FULL_PRECISION) else v
        elif k.startswith("extra."):
            kept[k] = v
    state["param_groups"] = {}  # no optimiser state carried: Adam starts afresh (see the docstring)
    state["info"]["carried"] = "float16 weights (the mapping network float32), optimiser moments dropped"
    os.makedirs(os.path.join(dst, SAMPLES_DIR), exist_ok=True)
    atomic_write_bytes(os.path.join(dst, "resume.safetensors"), save(kept, metadata={"uncanny_state": json.dumps(state)}))
    atomic_write_text(os.path.join(dst, "run.json"), json.dumps(run_info, indent=1) + "\n")
    # the trainer's own rule for the rows a state owns: a rolled-back state's log ends at its step
    RunFolder(dst, "train").write_csv("log.csv", LOG_COLUMNS, log_upto(RunFolder(run, "train"), state["info"]["step"]))
    for name in sorted(os.listdir(os.path.join(run, SAMPLES_DIR))):
        if snapshot is None or _upto(name, snapshot):
            shutil.copy2(os.path.join(run, SAMPLES_DIR, name), os.path.join(dst, SAMPLES_DIR, name))
        elif os.path.isfile(os.path.join(dst, SAMPLES_DIR, name)):
            os.remove(os.path.join(dst, SAMPLES_DIR, name))
    size = os.path.getsize(os.path.join(dst, "resume.safetensors")) / 1e6
    back = f" (rolled back from step {state['info']['rolled_back']['from_step']} to {snapshot})" if snapshot else ""
    print(f"packed step {state['info']['step']} of {run} into {dst}{back} ({size:.1f} MB of weights)")


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


def _from_git(rev: str, path: str, dst: str) -> str:
    """Write `path` as it was at commit `rev` to dst (the repository's own history holds every
    carried state: each session's carry commit)."""
    import subprocess
    r = subprocess.run(["git", "show", f"{rev}:{os.path.relpath(path)}"], capture_output=True)
    if r.returncode != 0:
        sys.exit(f"{path} at {rev}: {r.stderr.decode().strip() or 'not in git history'}")
    with open(dst, "wb") as f:
        f.write(r.stdout)
    return dst


def state(src, dst, rev=None, data=None):
    """A carried state (G, G_ema, D) as a snapshot checkpoint that every verb loads, like the ones
    the trainer writes (float32, with w_avg); from the working tree or from commit `rev`."""
    import tempfile

    from uncanny import adapters
    from uncanny.adapters.stylegan2 import StyleGAN2
    from uncanny.checkpoint import load_into, save_checkpoint
    from uncanny.train import images_shown
    resume, run_json = os.path.join(src, "resume.safetensors"), os.path.join(src, "run.json")
    with tempfile.TemporaryDirectory() as tmp:
        if rev:
            resume = _from_git(rev, resume, os.path.join(tmp, "resume.safetensors"))
            run_json = _from_git(rev, run_json, os.path.join(tmp, "run.json"))
        for p in (resume, run_json):
            if not os.path.isfile(p):
                sys.exit(f"{p}: missing, not a carried training state")
        with open(run_json) as f:
            run = json.load(f)
        info, tensors = _info(resume), load_file(resume)
    licence = run.get("licence")
    if "licence" not in run:   # runs from before run.json kept it: the data set's own record says
        dataset_json = os.path.join(data or run["config"]["data"], "dataset.json")
        if not os.path.isfile(dataset_json):
            sys.exit(f"{dataset_json}: missing, and {os.path.join(src, 'run.json')} does not say the data's licence; "
                     f"prepare the data set (its licence travels with the weights) or pass --data")
        with open(dataset_json) as f:
            licence = json.load(f).get("licence")
    nets = {}
    for name in ("g", "g_ema", "d"):
        g, d = adapters.build("stylegan2", run["arch"])
        net = d if name == "d" else g
        sd = {k[len(name) + 1:]: v.float() for k, v in tensors.items() if k.startswith(name + ".")}
        nets[name] = load_into(net, sd, resume, name)
    w_avg = StyleGAN2(nets["g_ema"], None, None, run["arch"], {}, dst).estimate_w_avg()
    kimg = images_shown(info, run["config"]["batch"]) / 1000
    meta = {"provenance": {"trained_with": f"uncanny-lab {run.get('version')}", "data": run["config"]["data"],
                           "dataset_images": run.get("dataset_images"),
                           "exported_from": f"{src} at {rev or 'the working tree'} (carried: {info.get('carried')})"},
            "training": {"step": info["step"], "kimg": kimg, "seconds": info["seconds"], "batch": run["config"]["batch"]}}
    if licence:
        meta["provenance"]["licence"] = licence
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    save_checkpoint(dst, "stylegan2", run["arch"], nets, meta, w_avg=w_avg)
    print(f"{dst}: step {info['step']} ({kimg:.1f} kimg) as a snapshot with G, G_ema and D")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["pack", "unpack", "state"])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--rev", help="state: the commit whose carried state to export (default: the working tree)")
    ap.add_argument("--data", help="state: the prepared data set, for its licence when run.json has none")
    ap.add_argument("--snapshot", help="pack: carry the run rolled back to this snapshot of it (see the docstring)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.action == "state":
        state(a.src, a.dst, a.rev, a.data)
    else:
        pack(a.src, a.dst, a.snapshot) if a.action == "pack" else unpack(a.src, a.dst)


if __name__ == "__main__":
    main()
