"""Training on a tiny real dataset: snapshots with G, G_ema and D, sample grids, resume."""

import csv
import json
import os
import shutil

import pytest
import torch

from uncanny import faces
from uncanny.checkpoint import load_gan, read_checkpoint
from uncanny.data import prepare
from uncanny.errors import UncannyError
from uncanny.train import TrainConfig, train

TINY = dict(batch=4, style_dim=32, n_mlp=2, channel_base=256, channel_max=16, snap=0.02, n_sample=8)


@pytest.fixture(scope="module")
def tiny_dataset(celeba_photos, tmp_path_factory):
    src = tmp_path_factory.mktemp("src")
    for p in [p for p in celeba_photos[:12] if faces.find_faces(faces.load_image(p))][:8]:
        shutil.copy(p, src)
    dst = str(tmp_path_factory.mktemp("ds") / "faces16")
    prepare(str(src), dst, res=16, show_progress=False)
    return dst


def test_train_writes_snapshots_and_resumes(tiny_dataset, tmp_path):
    out = str(tmp_path / "run")
    last = train(TrainConfig(data=tiny_dataset, out=out, kimg=0.04, **TINY), show_progress=False)
    assert last.endswith("img-000040.safetensors")
    ck = read_checkpoint(last)
    assert set(ck.state) == {"g", "g_ema", "d"} and ck.w_avg is not None
    assert ck.header["training"]["step"] == 10 and ck.config["size"] == 16
    assert any(not torch.equal(ck.state["g"][k], ck.state["g_ema"][k]) for k in ck.state["g"])  # EMA lags G
    assert os.path.isfile(os.path.join(out, "samples", "img-000040.png"))
    with open(os.path.join(out, "log.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [10]
    assert all(float(r["loss_d"]) > 0 for r in rows)

    with pytest.raises(UncannyError, match="--resume"):
        train(TrainConfig(data=tiny_dataset, out=out, kimg=0.06, **TINY), show_progress=False)
    last = train(TrainConfig(data=tiny_dataset, out=out, kimg=0.06, resume=True, **TINY), show_progress=False)
    ck2 = read_checkpoint(last)
    assert ck2.header["training"]["step"] == 15
    gan = load_gan(last, need_d=True)
    img = gan.generate(torch.randn(2, 32))
    assert img.shape == (2, 3, 16, 16) and torch.isfinite(img).all()


def test_train_refuses_bad_inputs(tiny_dataset, tmp_path):
    with pytest.raises(UncannyError, match="--kimg"):
        train(TrainConfig(data=tiny_dataset, out=str(tmp_path / "a"), kimg=0, **TINY), show_progress=False)
    with pytest.raises(UncannyError, match="not a prepared dataset"):
        train(TrainConfig(data=str(tmp_path), out=str(tmp_path / "b"), kimg=1, **TINY), show_progress=False)


def test_data_parallel_training_under_torchrun(tiny_dataset, tmp_path):
    """Two CPU processes (gloo): one snapshot, identical weights on both ranks by construction."""
    import subprocess
    import sys
    out = str(tmp_path / "ddp")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "uncanny", "train", tiny_dataset, "--out", out, "--kimg", "0.04", "--batch", "4",
           "--snap", "0.04", "--channel-base", "256", "--channel-max", "16", "--style-dim", "32"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    ck = read_checkpoint(os.path.join(out, "snapshots", "img-000040.safetensors"))
    assert ck.header["training"]["step"] == 10
    run = json.load(open(os.path.join(out, "run.json")))
    assert run["world_size"] == 2
