"""scripts/weight_drift.py: a run's random start is rebuilt exactly (its step-0 snapshot is at
distance 0), training moves the weights, and a file of another architecture is refused in one line."""

import os
import subprocess
import sys

import pytest

from uncanny import adapters
from uncanny.checkpoint import save_checkpoint
from uncanny.train import TrainConfig, train

from ..conftest import SCRIPTS, TINY_SG2, load_script

SCRIPT = os.path.join(SCRIPTS, "weight_drift.py")
TINY = dict(batch=4, style_dim=32, n_mlp=2, channel_base=256, channel_max=16, snap=0.02, n_sample=8)


def test_relative_distance_on_rows():
    import torch
    d = load_script("weight_drift").relative_distance
    b = {"style.1.weight": torch.tensor([3.0, 4.0]), "convs.0.w": torch.tensor([1.0])}
    a = {"style.1.weight": torch.tensor([3.0, 4.5]), "convs.0.w": torch.tensor([1.0])}
    assert d(a, b, "style.") == pytest.approx(0.1) and d(a, b, "convs.") == 0.0
    with pytest.raises(ValueError):
        d(a, b, "nothing.")


def test_step_zero_is_the_rebuilt_start_and_training_moves_away(tiny_dataset, tmp_path):
    out = str(tmp_path / "run")
    last = train(TrainConfig.for_call(tiny_dataset, out, kimg=0.02, **TINY), show_progress=False)
    first = os.path.join(out, "snapshots", "kimg-000000.safetensors")
    r = subprocess.run([sys.executable, SCRIPT, out, first, last], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = [line.split("|")[1:-1] for line in r.stdout.strip().splitlines()[2:]]
    start, end = [[c.strip() for c in row] for row in rows]
    assert start[1:] == ["0.0000", "", "0.0000", "", "0.0000", ""]
    mapping, synthesis = float(end[1]), float(end[3])
    assert 0 < mapping < synthesis          # lr_mlp 0.01: the mapping moves least
    assert float(end[2]) == pytest.approx(mapping, abs=1e-4)   # from the previous = from the start here

    deeper = {**TINY_SG2, "n_mlp": TINY["n_mlp"] + 1}
    G, _ = adapters.build("stylegan2", deeper)
    other = str(tmp_path / "other.safetensors")
    save_checkpoint(other, "stylegan2", deeper, {"g_ema": G}, {})
    bad = subprocess.run([sys.executable, SCRIPT, out, other], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[-1].startswith(other)


def test_a_widened_run_starts_where_its_old_channels_began(tiny_dataset, tmp_path):
    """A run that widened G on resume: its rebuilt start is the first width's start widened, so it
    generates what the step-0 snapshot did; the wide snapshots compare with it, the narrow ones
    are refused in one line."""
    import json
    import torch
    from uncanny.adapters import load_gan
    from uncanny.train import run_start
    out = str(tmp_path / "run")
    train(TrainConfig.for_call(tiny_dataset, out, kimg=0.02, **TINY), show_progress=False)
    wide = train(TrainConfig.for_call(tiny_dataset, out, resume=True, kimg=0.04, g_channel_max=32),
                 show_progress=False)
    first = os.path.join(out, "snapshots", "kimg-000000.safetensors")
    start = run_start(json.load(open(os.path.join(out, "run.json"))))
    z = torch.randn(2, TINY["style_dim"])
    with torch.no_grad():
        a = start([z], randomize_noise=False)[0]
        b = load_gan(first, which="g").G([z], randomize_noise=False)[0]
    assert start.channels[4] == 32 and (a - b).abs().max() < 1e-5
    r = subprocess.run([sys.executable, SCRIPT, out, wide], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    reads = float(r.stdout.strip().splitlines()[-1].split("|")[-2])
    assert 0 < reads < 0.5      # the old channels began to read the added ones, from zero
    bad = subprocess.run([sys.executable, SCRIPT, out, first], capture_output=True, text=True)
    assert bad.returncode == 2 and "widened G" in bad.stderr and "Traceback" not in bad.stderr
