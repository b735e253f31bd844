"""Training on a tiny real dataset: snapshots with G, G_ema and D, sample grids, resume."""

import csv
import json
import math
import os
import shutil

import pytest
import torch
from safetensors import safe_open

from uncanny.adapters import load_gan
from uncanny.checkpoint import read_checkpoint
from uncanny.errors import UncannyError
from uncanny.train import TrainConfig, _mixing_z, train

TINY = dict(batch=4, style_dim=32, n_mlp=2, channel_base=256, channel_max=16, snap=0.02, n_sample=8)


def test_train_writes_snapshots_and_resumes(tiny_dataset, tmp_path):
    out = str(tmp_path / "run")
    last = train(TrainConfig(data=tiny_dataset, out=out, kimg=0.04, **TINY), show_progress=False)
    assert last.endswith("img-000040.safetensors")
    ck = read_checkpoint(last)
    assert set(ck.state) == {"g", "g_ema", "d"} and ck.w_avg is not None
    assert ck.header["training"]["step"] == 10 and ck.config["size"] == 16
    assert any(not torch.equal(ck.state["g"][k], ck.state["g_ema"][k]) for k in ck.state["g"])  # EMA lags G
    assert os.path.isfile(os.path.join(out, "samples", "img-000040.png"))
    from PIL import Image
    assert Image.open(os.path.join(out, "curves.png")).size[0] > 800   # log.csv's plot, redrawn every snapshot
    with open(os.path.join(out, "log.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [10]
    # D's logistic loss starts at 2 ln 2 = 1.386 (it cannot tell real from fake); a D that
    # learns goes under it, and real logits rise above fake ones
    assert 0 < float(rows[0]["loss_d"]) < 2 * math.log(2)
    assert float(rows[0]["d_real"]) > float(rows[0]["d_fake"])

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
    """Two CPU processes (gloo): one snapshot, identical weights on both ranks by construction;
    APA on, so its signs are summed over the ranks (all-reduce) before p moves."""
    import subprocess
    import sys
    out = str(tmp_path / "ddp")
    import socket
    with socket.socket() as sock:       # a free port: tests running in parallel never collide
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port,
           "-m", "uncanny", "train", tiny_dataset, "--out", out, "--kimg", "0.04", "--batch", "4",
           "--snap", "0.04", "--channel-base", "256", "--channel-max", "16", "--style-dim", "32",
           "--apa", "0.05", "--apa-kimg", "0.1"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert 0 <= float(list(csv.DictReader(open(os.path.join(out, "log.csv"))))[-1]["apa_p"]) <= 1
    ck = read_checkpoint(os.path.join(out, "snapshots", "img-000040.safetensors"))
    assert ck.header["training"]["step"] == 10
    run = json.load(open(os.path.join(out, "run.json")))
    assert run["world_size"] == 2


def test_resume_continues_the_runs_own_recipe_without_repeating_log_rows(tiny_dataset, tmp_path):
    """`--resume` alone takes the recipe recorded in run.json (not today's defaults), the step
    count goes on, and log.csv holds each step once."""
    out = str(tmp_path / "run")
    first = TrainConfig.for_call(tiny_dataset, out, kimg=0.04, r1_gamma=0.3, **TINY)
    train(first, show_progress=False)
    again = TrainConfig.for_call(tiny_dataset, out, resume=True, kimg=0.08)
    assert again.r1_gamma == 0.3 and again.channel_base == TINY["channel_base"] and again.kimg == 0.08
    last = train(again, show_progress=False)
    assert read_checkpoint(last).header["training"]["step"] == 20
    with open(os.path.join(out, "log.csv")) as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == [10, 20]
    # An explicit architecture change cannot load the run's weights: one line naming the keys.
    with pytest.raises(UncannyError, match="resume.safetensors"):
        train(TrainConfig.for_call(tiny_dataset, out, resume=True, kimg=0.1, channel_max=8), show_progress=False)


def test_log_upto_drops_rows_past_the_resume_point_and_migrates_columns(tmp_path):
    from uncanny.runs import RunFolder
    from uncanny.train import LOG_COLUMNS, log_upto
    (tmp_path / "log.csv").write_text("step,kimg,loss_d,loss_g,r1,d_real,d_fake,sec_per_kimg\n"
                                      "10,0.1,1,2,0,0.5,-0.5,90\n20,0.2,1,2,0,0.5,-0.5,90\n30,0.3,1,2,0,0.5,-0.5,90\n")
    rows = log_upto(RunFolder(str(tmp_path), "train"), 20)
    assert [list(r) for r in rows] == [LOG_COLUMNS] * 2 and [r["step"] for r in rows] == ["10", "20"]
    assert rows[1]["pl"] == "" and rows[1]["d_real"] == "0.5"


def test_bf16_autocast_agrees_with_float32(tiny_dataset):
    """The fast path (bf16 autocast, what --precision auto picks on CPUs with native bf16) against
    its reference (float32): the convolutions really run in bf16, and G's gradient through D points
    the same way."""
    from uncanny import adapters
    from uncanny.train import Trainer
    torch.manual_seed(0)
    arch = dict(size=32, style_dim=32, n_mlp=2, channel_multiplier=1, channel_base=2048, channel_max=64)
    G, D = adapters.build("stylegan2", arch)
    z = torch.randn(8, 32)
    grads = {}
    for precision in ("fp32", "bf16"):
        tr = Trainer(TrainConfig(data="", out="", batch=8, precision=precision, style_dim=32), G, D, G, torch.device("cpu"))
        seen = []
        hook = D.convs[1].conv1.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
        G.zero_grad()
        with tr.low_precision():
            img, _ = G([z], noise=[torch.zeros_like(n) for n in G.make_noise()])
            loss = torch.nn.functional.softplus(-D(img.float()).float()).mean()
        loss.backward()
        hook.remove()
        assert seen == [torch.bfloat16 if precision == "bf16" else torch.float32]
        grads[precision] = torch.cat([p.grad.flatten() for p in G.parameters() if p.grad is not None])
    cos = torch.nn.functional.cosine_similarity(grads["fp32"], grads["bf16"], dim=0)
    assert cos > 0.99, cos


def test_interrupted_training_writes_its_state_and_resumes(tiny_dataset, tmp_path):
    """Ctrl-C (SIGINT) during `uncanny train`: the step finishes, a snapshot and the resume state
    are written, the command exits 0, and --resume goes on from there."""
    import signal
    import subprocess
    import sys
    import time
    out = str(tmp_path / "run")
    cmd = [sys.executable, "-m", "uncanny", "train", tiny_dataset, "--out", out, "--kimg", "50", "--batch", "4",
           "--snap", "10", "--channel-base", "256", "--channel-max", "16", "--style-dim", "32"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    log = os.path.join(out, "log.csv")
    deadline = time.time() + 300
    while time.time() < deadline and not (os.path.isfile(log) and len(open(log).read().splitlines()) > 1):
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err[-1000:]
    assert "continue with --resume" in err
    from safetensors import safe_open
    with safe_open(os.path.join(out, "resume.safetensors"), "pt") as f:
        step = json.loads(f.metadata()["uncanny_state"])["info"]["step"]
    assert step >= 10
    snaps = [s for s in os.listdir(os.path.join(out, "snapshots")) if s.endswith(".safetensors")]
    assert len(snaps) == 2  # the initial one and the one written on the signal
    last = train(TrainConfig.for_call(tiny_dataset, out, resume=True, kimg=(step + 5) * 4 / 1000), show_progress=False)
    assert read_checkpoint(last).header["training"]["step"] == step + 5


def test_a_stop_keeps_a_snapshot_already_written_under_its_name(tiny_dataset, tmp_path):
    """Stopped a few steps after a scheduled snapshot, the stop's kimg rounds to the same name
    (kimg-000002 at step 500, the stop at 2.0-2.5 kimg): the scheduled file, which may have been
    measured, is kept, and the stop's weights go to the resume state, from which --resume goes on."""
    import signal
    import subprocess
    import sys
    import time
    out = str(tmp_path / "run")
    cmd = [sys.executable, "-m", "uncanny", "train", tiny_dataset, "--out", out, "--kimg", "50", "--batch", "4",
           "--snap", "2", "--channel-base", "256", "--channel-max", "16", "--style-dim", "32"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    snap = os.path.join(out, "snapshots", "kimg-000002.safetensors")
    deadline = time.time() + 600
    while time.time() < deadline and not os.path.isfile(snap):
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err[-1000:]
    from safetensors import safe_open
    with safe_open(os.path.join(out, "resume.safetensors"), "pt") as f:
        step = json.loads(f.metadata()["uncanny_state"])["info"]["step"]
    assert 500 < step < 625, step   # stopped within the name's half kimg (else this test proves nothing)
    assert read_checkpoint(snap).header["training"]["step"] == 500 and "already holds an earlier step" in err
    last = train(TrainConfig.for_call(tiny_dataset, out, resume=True, kimg=(step + 5) * 4 / 1000), show_progress=False)
    assert read_checkpoint(last).header["training"]["step"] == step + 5


def test_carried_state_resumes_on_another_machine(tiny_dataset, tmp_path):
    """scripts/carry_run.py: pack (float16 weights, no optimiser moments) and unpack into a fresh
    folder; training resumes from the carried step with the same recipe."""
    import subprocess
    import sys
    script = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "carry_run.py")
    out, carried, other = str(tmp_path / "run"), str(tmp_path / "carried"), str(tmp_path / "elsewhere")
    train(TrainConfig.for_call(tiny_dataset, out, kimg=0.04, **TINY), show_progress=False)
    for args in (["pack", out, carried], ["unpack", carried, other]):
        r = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    assert os.path.getsize(os.path.join(carried, "resume.safetensors")) < \
        0.6 * os.path.getsize(os.path.join(out, "resume.safetensors"))
    from safetensors.torch import load_file
    packed = load_file(os.path.join(carried, "resume.safetensors"))
    full = load_file(os.path.join(out, "resume.safetensors"))
    assert {v.dtype for k, v in packed.items() if k.startswith("g.convs.")} == {torch.float16}
    mapping = [k for k in packed if k.startswith(("g.style.", "g_ema.style."))]
    assert mapping and all(torch.equal(packed[k], full[k]) for k in mapping)   # exact: it moves less than float16's step
    r = subprocess.run([sys.executable, script, "unpack", carried, other], capture_output=True, text=True)
    assert r.returncode != 0 and "already at step" in r.stderr  # never goes back over a newer state
    at_state = train(TrainConfig.for_call(tiny_dataset, other, resume=True, kimg=0.04), show_progress=False)
    assert read_checkpoint(at_state).header["training"]["step"] == 10   # nothing to train: the state as a snapshot
    last = train(TrainConfig.for_call(tiny_dataset, other, resume=True, kimg=0.06), show_progress=False)
    ck, ref = read_checkpoint(last), read_checkpoint(os.path.join(out, "snapshots", "img-000040.safetensors"))
    assert ck.header["training"]["step"] == 15
    assert ck.config == ref.config

    # `state`: the carried state as a snapshot every verb loads, from the history of a repository
    # (each carry commit keeps a training state: issue 11's early and middle states)
    repo = tmp_path / "repo"
    shutil.copytree(carried, repo / "training" / "t")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "carry"]):
        subprocess.run(git + cmd, cwd=repo, check=True, capture_output=True)
    shutil.rmtree(repo / "training" / "t")                           # only the history has it now
    r = subprocess.run([sys.executable, os.path.abspath(script), "state", "training/t", "s.safetensors", "--rev", "HEAD",
                        "--data", tiny_dataset], cwd=repo, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    exported = read_checkpoint(str(repo / "s.safetensors"))
    assert exported.header["training"]["step"] == 10
    assert exported.header["provenance"].get("licence") == ref.header["provenance"].get("licence")
    a, b = load_gan(str(repo / "s.safetensors"), need_d=True), load_gan(ref.path, need_d=True)
    z = torch.randn(4, TINY["style_dim"], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        img_a, img_b = a.generate(z), b.generate(z)
        assert (img_a - img_b).abs().max() < 0.02                    # float16 weights: within a few levels of 255
        assert (a.D(img_b) - b.D(img_b)).abs().max() < 0.02
    r = subprocess.run([sys.executable, os.path.abspath(script), "state", "training/t", "s2.safetensors", "--rev",
                        "no-such-rev"], cwd=repo, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "no-such-rev" in r.stderr and not (repo / "s2.safetensors").exists()


def test_carry_rolls_a_run_back_to_one_of_its_snapshots(tiny_dataset, tmp_path):
    """carry_run.py pack --snapshot: the carried state is the snapshot's nets at its step and
    image count, with the log rows and sample grids after it dropped and the roll-back recorded;
    it resumes from there. A snapshot of another run is refused with its name."""
    import subprocess
    import sys
    script = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "carry_run.py")
    out, carried, other = str(tmp_path / "run"), str(tmp_path / "carried"), str(tmp_path / "elsewhere")
    train(TrainConfig.for_call(tiny_dataset, out, kimg=0.06, **TINY), show_progress=False)
    early = os.path.join(out, "snapshots", "img-000020.safetensors")
    r = subprocess.run([sys.executable, script, "pack", out, carried, "--snapshot", early],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    from safetensors.torch import load_file
    packed, snap = load_file(os.path.join(carried, "resume.safetensors")), load_file(early)
    nets = [k for k in packed if k.startswith(("g.", "g_ema.", "d."))]
    assert nets and all((packed[k].float() - snap[k]).abs().max() <= 1e-3 * max(1.0, snap[k].abs().max()) for k in nets)
    last = load_file(os.path.join(out, "resume.safetensors"))
    assert any(not torch.equal(packed[k].float(), last[k].float()) for k in nets)   # not the state it was packed from
    with safe_open(os.path.join(carried, "resume.safetensors"), "pt") as f:
        info = json.loads(f.metadata()["uncanny_state"])["info"]
    assert (info["step"], info["nimg"], info["rolled_back"]["from_step"]) == (5, 20, 15)
    with open(os.path.join(carried, "log.csv")) as f:
        assert all(int(row["step"]) <= 5 for row in csv.DictReader(f))
    assert sorted(os.listdir(os.path.join(carried, "samples"))) == ["img-000020.png", "kimg-000000.png"]  # 40, 60 dropped
    assert os.path.isfile(os.path.join(out, "samples", "img-000040.png"))
    run = json.load(open(os.path.join(carried, "run.json")))
    assert run["recipe_changes"][-1] == {"step": 15, "rolled_back_to_step": [15, 5], "snapshot": "img-000020.safetensors"}
    r = subprocess.run([sys.executable, script, "unpack", carried, other], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    resumed = train(TrainConfig.for_call(tiny_dataset, other, resume=True, kimg=0.04), show_progress=False)
    assert read_checkpoint(resumed).header["training"]["step"] == 10

    foreign = str(tmp_path / "foreign")
    train(TrainConfig.for_call(tiny_dataset, foreign, kimg=0.02, **{**TINY, "style_dim": 16}), show_progress=False)
    r = subprocess.run([sys.executable, script, "pack", out, str(tmp_path / "c2"), "--snapshot",
                        os.path.join(foreign, "snapshots", "img-000020.safetensors")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "img-000020.safetensors: not a snapshot of this run" in r.stderr
    assert not os.path.exists(str(tmp_path / "c2" / "resume.safetensors"))


def test_noise_off_holds_strengths_at_zero_and_a_resume_records_the_change(tiny_dataset, tmp_path):
    """--noise off: every noise strength of G and G_ema stays exactly zero while the rest trains;
    switching it off (and lowering the learning rate) when resuming a run is recorded in run.json,
    and the new learning rate is the one the optimisers use (not the one saved with their moments)."""
    out = str(tmp_path / "run")
    train(TrainConfig.for_call(tiny_dataset, out, kimg=0.04, noise=True, **TINY), show_progress=False)
    ck = read_checkpoint(os.path.join(out, "snapshots", "img-000040.safetensors"))
    assert any(v.abs().item() > 0 for k, v in ck.state["g"].items() if k.endswith("noise.weight"))
    lr0 = TrainConfig.for_call(tiny_dataset, out, resume=True).lr
    last = train(TrainConfig.for_call(tiny_dataset, out, resume=True, kimg=0.08, noise=False, lr=lr0 / 4),
                 show_progress=False)
    ck2 = read_checkpoint(last)
    for net in ("g", "g_ema"):
        strengths = [v for k, v in ck2.state[net].items() if k.endswith("noise.weight")]
        assert strengths and all(v.item() == 0 for v in strengths)
    assert any(not torch.equal(ck.state["g"][k], ck2.state["g"][k]) for k in ck.state["g"])  # the rest trained
    run = json.load(open(os.path.join(out, "run.json")))
    assert run["recipe_changes"] == [{"step": 10, "noise": [True, False], "lr": [lr0, lr0 / 4]}]
    again = TrainConfig.for_call(tiny_dataset, out, resume=True)
    assert again.noise is False and again.lr == lr0 / 4  # the change is now the run's recipe
    with safe_open(os.path.join(out, "resume.safetensors"), "pt") as f:
        groups = json.loads(f.metadata()["uncanny_state"])["param_groups"]
    d_ratio = again.d_reg_every / (again.d_reg_every + 1)
    assert groups["g"][0]["lr"] == lr0 / 4 and abs(groups["d"][0]["lr"] - lr0 / 4 * d_ratio) < 1e-12


def test_minibatch_stddev_group_changes_on_resume_and_travels_with_the_snapshots(tiny_dataset, tmp_path):
    """--mbstd-group changes no weights, so a run may take it up when resuming: the change is
    recorded, and the snapshots' D (what foil and detect load) uses the new group."""
    out = str(tmp_path / "run")
    train(TrainConfig.for_call(tiny_dataset, out, kimg=0.02, **TINY), show_progress=False)
    assert load_gan(os.path.join(out, "snapshots", "img-000020.safetensors"), need_d=True).D.stddev_group == 4
    last = train(TrainConfig.for_call(tiny_dataset, out, resume=True, kimg=0.04, mbstd_group=4 * 2),
                 show_progress=False)
    run = json.load(open(os.path.join(out, "run.json")))
    assert run["recipe_changes"] == [{"step": 5, "mbstd_group": [4, 8]}] and run["arch"]["mbstd_group"] == 8
    gan = load_gan(last, need_d=True)
    assert gan.config["mbstd_group"] == 8 and gan.D.stddev_group == 8


def test_a_run_widens_g_on_resume_as_the_same_function_and_trains_on(tiny_dataset, tmp_path):
    """--g-channel-max grows G on --resume: the state's G and G_ema are copied into the wider G
    (nets.stylegan2.widen_into) and written back at once, so the resume state generates what the
    last snapshot did; run.json records the width and the change; D keeps its width; training then
    goes on from the wide state, and a narrower G is refused with one line."""
    from uncanny import adapters
    from uncanny.checkpoint import load_state
    out = str(tmp_path / "run")
    first = train(TrainConfig.for_call(tiny_dataset, out, kimg=0.02, **TINY), show_progress=False)
    assert "g_channel_max" not in read_checkpoint(first).config    # runs without it record what they did
    z = torch.randn(3, 32)
    before = load_gan(first).generate(z)
    train(TrainConfig.for_call(tiny_dataset, out, resume=True, kimg=0.02, g_channel_max=32), show_progress=False)
    run = json.load(open(os.path.join(out, "run.json")))
    assert run["arch"]["g_channel_max"] == 32 and run["recipe_changes"] == [{"step": 5, "g_channel_max": [None, 32]}]
    G, D = adapters.build("stylegan2", run["arch"])
    G_ema, _ = adapters.build("stylegan2", run["arch"])
    load_state(os.path.join(out, "resume.safetensors"), {"g": G, "g_ema": G_ema, "d": D}, {})
    _, D_as_before = adapters.build("stylegan2", read_checkpoint(first).config)
    assert G_ema.channels[4] == 32 and [p.shape for p in D.parameters()] == [p.shape for p in D_as_before.parameters()]
    after, _ = G_ema([z], randomize_noise=False)
    assert (after - before).abs().max() < 1e-5

    last = train(TrainConfig.for_call(tiny_dataset, out, resume=True, kimg=0.04), show_progress=False)
    gan = load_gan(last, need_d=True)
    assert gan.G.channels[4] == 32 and gan.config["g_channel_max"] == 32
    assert read_checkpoint(last).header["training"]["step"] == 10
    with pytest.raises(UncannyError, match="g-channel-max 8: .*only widening"):
        train(TrainConfig.for_call(tiny_dataset, out, resume=True, kimg=0.06, g_channel_max=8), show_progress=False)


def test_widened_lr_moves_only_the_entries_a_widening_added_that_much_further(tiny_dataset, tmp_path):
    """--widened-lr K: G's weights that the widening added (outside the old tensors' slices) take
    K times Adam's step; the old entries take the same step as at K = 1. One step from the same
    widened state, at K = 1 and K = 10, compared entry by entry."""
    from safetensors.torch import load_file
    base = str(tmp_path / "base")
    train(TrainConfig.for_call(tiny_dataset, base, kimg=0.02, **TINY), show_progress=False)
    train(TrainConfig.for_call(tiny_dataset, base, resume=True, kimg=0.02, g_channel_max=32), show_progress=False)
    start = load_file(os.path.join(base, "resume.safetensors"))
    moved = {}
    for k in (1.0, 10.0):
        out = str(tmp_path / f"k{k:g}")
        shutil.copytree(base, out)
        train(TrainConfig.for_call(tiny_dataset, out, resume=True, kimg=0.024, widened_lr=k), show_progress=False)
        end = load_file(os.path.join(out, "resume.safetensors"))
        moved[k] = {n: end[n] - start[n] for n in start if n.startswith("g.") and start[n].is_floating_point()}
    w = "g.conv1.conv.weight"                          # (1, 32, 32, 3, 3); the old slice is [:, :16, :16]
    old, new = moved[1.0][w][:, :16, :16], moved[1.0][w][:, :16, 16:]
    assert torch.equal(moved[10.0][w][:, :16, :16], old) and old.abs().max() > 0
    assert torch.allclose(moved[10.0][w][:, :16, 16:], 10 * new, rtol=1e-4, atol=1e-9) and new.abs().max() > 0
    assert torch.equal(moved[10.0]["g.style.1.weight"], moved[1.0]["g.style.1.weight"])   # not widened
    run = json.load(open(os.path.join(str(tmp_path / "k10"), "run.json")))
    assert run["recipe_changes"][-1] == {"step": 5, "widened_lr": [1.0, 10.0]}


def test_style_mixing_changes_on_resume_and_zero_draws_one_latent_per_batch(tiny_dataset, tmp_path):
    """--mixing changes no weights, so a run may take it up when resuming (NVIDIA's small-image
    config trains without style mixing): the change is recorded and becomes the run's recipe; at 0
    every batch comes from one latent, at 1 every batch from two."""
    assert all(len(_mixing_z(4, 8, 0.0, "cpu")) == 1 for _ in range(50))
    assert all(len(_mixing_z(4, 8, 1.0, "cpu")) == 2 for _ in range(50))
    out = str(tmp_path / "run")
    train(TrainConfig.for_call(tiny_dataset, out, kimg=0.02, **TINY), show_progress=False)
    train(TrainConfig.for_call(tiny_dataset, out, resume=True, kimg=0.04, mixing=0.0), show_progress=False)
    run = json.load(open(os.path.join(out, "run.json")))
    assert run["recipe_changes"] == [{"step": 5, "mixing": [0.9, 0.0]}]
    assert TrainConfig.for_call(tiny_dataset, out, resume=True).mixing == 0.0


def test_batch_changes_on_resume_and_the_run_counts_images_not_steps(tiny_dataset, tmp_path):
    """A resumed run may change its batch: the run's clock is the real images shown, so kimg, the
    snapshot names, log.csv and the length (--kimg) go on from where the run was, and the change
    is recorded. A state written before the count was kept resumes at step x the recorded batch."""
    from safetensors.torch import load_file, save
    out = str(tmp_path / "run")
    train(TrainConfig.for_call(tiny_dataset, out, kimg=0.02, **TINY), show_progress=False)   # 5 steps of 4
    state = os.path.join(out, "resume.safetensors")
    with safe_open(state, "pt") as f:
        meta = json.loads(f.metadata()["uncanny_state"])
    assert meta["info"]["nimg"] == 20
    del meta["info"]["nimg"]                                  # as the states carried before the count
    rewritten = save(load_file(state), metadata={"uncanny_state": json.dumps(meta)})
    with open(state, "wb") as f:
        f.write(rewritten)

    last = train(TrainConfig.for_call(tiny_dataset, out, resume=True, kimg=0.06, batch=8), show_progress=False)
    ck = read_checkpoint(last)
    assert last.endswith("img-000060.safetensors")            # 20 + 5 steps of 8, not 10 x 8 = 80
    assert ck.header["training"]["step"] == 10 and ck.header["training"]["batch"] == 8
    assert abs(ck.header["training"]["kimg"] - 0.06) < 1e-12
    with open(os.path.join(out, "log.csv")) as f:
        assert [(int(r["step"]), r["kimg"]) for r in csv.DictReader(f)] == [(5, "0.020"), (10, "0.060")]
    snaps = sorted(s for s in os.listdir(os.path.join(out, "snapshots")) if s.endswith(".safetensors"))
    assert snaps == ["img-000020.safetensors", "img-000028.safetensors", "img-000044.safetensors",
                     "img-000060.safetensors", "kimg-000000.safetensors"]   # every 2 steps of 8
    run = json.load(open(os.path.join(out, "run.json")))
    assert run["recipe_changes"] == [{"step": 5, "batch": [4, 8]}]
    again = train(TrainConfig.for_call(tiny_dataset, out, resume=True, kimg=0.06), show_progress=False)
    assert again == last                                      # the length is reached: nothing left to train


def test_training_is_reproducible_and_a_resumed_run_equals_an_uninterrupted_one(tiny_dataset, tmp_path):
    """Same command, same seed: bit-identical weights. Stopped after 5 steps and resumed: the
    same weights and log as 10 steps in one go (each step's randomness depends on (seed, step))."""
    def weights(path):
        ck = read_checkpoint(path)
        return {f"{n}.{k}": v for n, sd in ck.state.items() for k, v in sd.items()}
    one = train(TrainConfig.for_call(tiny_dataset, str(tmp_path / "a"), kimg=0.04, **TINY), show_progress=False)
    two = train(TrainConfig.for_call(tiny_dataset, str(tmp_path / "b"), kimg=0.04, **TINY), show_progress=False)
    train(TrainConfig.for_call(tiny_dataset, str(tmp_path / "c"), kimg=0.02, **TINY), show_progress=False)
    three = train(TrainConfig.for_call(tiny_dataset, str(tmp_path / "c"), resume=True, kimg=0.04), show_progress=False)
    a, b, c = weights(one), weights(two), weights(three)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(a[k], c[k]) for k in a)
    logs = []
    for run in "ac":
        with open(tmp_path / run / "log.csv") as f:
            logs.append([{k: v for k, v in r.items() if k != "sec_per_kimg"} for r in csv.DictReader(f)])
    steps = [r["step"] for r in logs[1]]
    assert len(steps) == len(set(steps))          # no step twice (the stopped call logged step 5 as its last)
    assert logs[0][-1] == logs[1][-1]             # step 10 logged alike


def test_kill_9_then_resume_gives_the_uninterrupted_weights_and_log(tiny_dataset, tmp_path):
    """SIGKILL at a random moment (between snapshots), then --resume: bit-identical weights and
    the same log rows (none twice) as a run that was never interrupted."""
    import signal
    import subprocess
    import sys
    import time
    args = ["--kimg", "0.16", "--batch", "4", "--snap", "0.04", "--channel-base", "256", "--channel-max", "16",
            "--style-dim", "32", "--n-mlp", "2"]
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    assert subprocess.run([sys.executable, "-m", "uncanny", "train", tiny_dataset, "--out", full, *args],
                          env=env, capture_output=True).returncode == 0
    p = subprocess.Popen([sys.executable, "-m", "uncanny", "train", tiny_dataset, "--out", killed, *args], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = os.path.join(killed, "log.csv")
    deadline = time.time() + 300
    while time.time() < deadline and not (os.path.isfile(log) and len(open(log).read().splitlines()) > 2):
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    r = subprocess.run([sys.executable, "-m", "uncanny", "train", tiny_dataset, "--out", killed, "--resume"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-500:]
    a = read_checkpoint(os.path.join(full, "snapshots", "img-000160.safetensors"))
    b = read_checkpoint(os.path.join(killed, "snapshots", "img-000160.safetensors"))
    for net in a.state:
        assert all(torch.equal(a.state[net][k], b.state[net][k]) for k in a.state[net]), net

    def rows(run):
        return [{k: v for k, v in r.items() if k != "sec_per_kimg"} for r in csv.DictReader(open(os.path.join(run, "log.csv")))]
    assert rows(full) == rows(killed)


def test_apa_run_stopped_between_two_moves_of_p_resumes_as_if_never_stopped(tiny_dataset, tmp_path):
    """APA's p and the signs gathered since it last moved travel in the resume state: stopped
    after step 9 (p moves after steps 4, 8, 12 and 16) and resumed, the weights, p and log are
    those of the uninterrupted run; log.csv reports r_t and p."""
    apa = dict(TINY, apa=0.05, apa_kimg=0.1)
    one = train(TrainConfig.for_call(tiny_dataset, str(tmp_path / "a"), kimg=0.064, **apa), show_progress=False)
    train(TrainConfig.for_call(tiny_dataset, str(tmp_path / "b"), kimg=0.036, **apa), show_progress=False)
    with safe_open(str(tmp_path / "b" / "resume.safetensors"), "pt") as f:
        p9, signs, count = f.get_tensor("extra.apa").tolist()
    assert 0 < count <= 4 and p9 > 0       # step 9's photos pending; p has moved up already
    two = train(TrainConfig.for_call(tiny_dataset, str(tmp_path / "b"), resume=True, kimg=0.064), show_progress=False)
    a, b = read_checkpoint(one), read_checkpoint(two)
    for net in a.state:
        assert all(torch.equal(a.state[net][k], b.state[net][k]) for k in a.state[net]), net
    rows = [list(csv.DictReader(open(tmp_path / r / "log.csv"))) for r in "ab"]
    by_step = [{r["step"]: (r["r_t"], r["apa_p"]) for r in log} for log in rows]
    assert all(by_step[1][s] == v for s, v in by_step[0].items())     # every row of the run in one go
    assert -1 <= float(rows[0][-1]["r_t"]) <= 1
    from PIL import Image
    assert Image.open(tmp_path / "a" / "curves.png").size[0] > 1500   # a fourth panel: r_t and p


def test_mapping_lr_moves_the_mapping_faster_and_resumes_states_grouped_either_way(tiny_dataset, tmp_path):
    """--mapping-lr multiplies the mapping network's learning rate only: resumed at 30x, the
    mapping moves far more in 5 steps than resumed as it was, the synthesis about as much. A
    state written when G's optimiser was one group (before the option) resumes into two."""
    from safetensors.torch import load_file, save

    def moved(path, start, prefix):
        ck = read_checkpoint(path).state["g"]
        keys = [k for k in ck if k.startswith(prefix)]
        return float(sum((ck[k] - start[k]).norm() ** 2 for k in keys) ** 0.5)

    first = str(tmp_path / "first")
    snap = train(TrainConfig.for_call(tiny_dataset, first, kimg=0.02, **TINY), show_progress=False)
    start = read_checkpoint(snap).state["g"]
    state = os.path.join(first, "resume.safetensors")
    with safe_open(state, "pt") as f:
        meta = json.loads(f.metadata()["uncanny_state"])
    groups = meta["param_groups"]["g"]
    assert len(groups) == 2 and groups[0]["lr"] == groups[1]["lr"]      # mapping at 1 x --lr
    meta["param_groups"]["g"] = [{**groups[1], "params": groups[0]["params"] + groups[1]["params"]}]
    one_group = save(load_file(state), metadata={"uncanny_state": json.dumps(meta)})

    ends = {}
    for mult in (1.0, 30.0):
        out = str(tmp_path / f"x{mult:g}")
        shutil.copytree(first, out)
        with open(os.path.join(out, "resume.safetensors"), "wb") as f:
            f.write(one_group)
        given = {} if mult == 1.0 else {"mapping_lr": mult}
        ends[mult] = train(TrainConfig.for_call(tiny_dataset, out, resume=True, kimg=0.04, **given),
                           show_progress=False)
    run = json.load(open(os.path.join(tmp_path / "x30", "run.json")))
    assert run["recipe_changes"] == [{"step": 5, "mapping_lr": [1.0, 30.0]}]
    assert json.load(open(os.path.join(tmp_path / "x1", "run.json"))).get("recipe_changes", []) == []
    mapping = [moved(ends[m], start, "style.") for m in (1.0, 30.0)]
    synthesis = [moved(ends[m], start, "convs.") for m in (1.0, 30.0)]
    assert mapping[1] > 10 * mapping[0] > 0
    assert 0.5 < synthesis[1] / synthesis[0] < 2
