"""Foil: outputs, the inverted objective works, resume after kill -9, non-finite handling."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image

from uncanny.checkpoint import read_checkpoint, save_checkpoint
from uncanny.cli import main
from uncanny.foil import FoilConfig, foil, label_stages

from ..conftest import TINY_SG2


def _rows(run):
    with open(os.path.join(run, "metrics.csv"), newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def short_run(tiny_ckpt, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("foil") / "run")
    r = foil(FoilConfig(model=tiny_ckpt, out=out, iters=30, lr=0.002, snapshots=(0, 10, 20, 30), frame_every=5,
                        faces_every=10, population=(10,), population_size=16), show_progress=False)
    return out, r


def test_short_run_writes_every_output(short_run):
    out, r = short_run
    for it in (0, 10, 20, 30):
        assert os.path.isfile(f"{out}/snapshots/iter-{it:06d}.safetensors")
        assert Image.open(f"{out}/grids/iter-{it:06d}.png").size[0] > 16
    strip = Image.open(f"{out}/timeline.png")
    # 4 snapshot columns of 6 seeds; 16 px samples are upscaled 6x (labels need >= 96 px)
    assert strip.size == (4 * (16 + 4) * 6, (6 * 18 + 2) * 6 + 14)
    for it in (10, 30):
        assert os.path.isfile(f"{out}/population-iter-{it:06d}.png")
    assert os.path.getsize(f"{out}/foil.mp4") > 1000 and os.path.getsize(f"{out}/foil.gif") > 1000
    assert Image.open(f"{out}/curves.png").size[0] > 500
    rows = _rows(out)
    assert [int(r["iter"]) for r in rows] == list(range(31))
    for col in ("loss", "d_mean", "d_std", "grad_norm", "param_dist"):
        assert all(r[col] != "" for r in rows[:-1]), col
    for col in ("d_fixed", "diversity", "sameness", "mean_r", "mean_g", "mean_b"):   # observed with the frames
        assert [int(r["iter"]) for r in rows if r[col] != ""] == list(range(0, 31, 5)), col
    assert rows[0]["face_rate"] != "" and rows[10]["face_rate"] != ""
    run = json.load(open(f"{out}/run.json"))
    assert run["config"]["iters"] == 30 and run["torch"] == torch.__version__ and run["seconds"] > 0
    assert set(run["stages"]) == {"0", "10", "20", "30"} and run["peak_uncanny"] in (0, 10, 20, 30)
    assert set(r.stages.values()) <= {"divergence", "convergence", "collapse"}
    ck = read_checkpoint(f"{out}/snapshots/iter-000030.safetensors")
    assert list(ck.state) == ["g"] and ck.header["foil"]["iter"] == 30


def test_inverted_objective_makes_d_call_samples_fake(short_run):
    rows = _rows(short_run[0])
    d = [float(r["d_fixed"]) for r in rows if r["d_fixed"]]
    assert d[-1] < d[0] - 0.5                       # D's logit on the fixed seeds falls: "more fake"
    assert float(rows[-1]["param_dist"]) > 0


def test_snapshot_renders_through_sample_command(short_run, tmp_path):
    out, _ = short_run
    png = str(tmp_path / "s.png")
    assert main(["sample", "--model", f"{out}/20", "--seeds", "0-3", "--out", png]) == 0
    assert Image.open(png).size == (2 + 2 * 18, 2 + 2 * 18)
    assert main(["sample", "--model", f"{out}/7", "--out", png]) == 2   # no snapshot at 7


def _cli(args, **kw):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.Popen([sys.executable, "-m", "uncanny", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _args40(tiny_ckpt):
    return ["foil", "--model", tiny_ckpt, "--iters", "40", "--snapshots", "0,10,20,40", "--faces-every", "0",
            "--frame-every", "5", "--lr-schedule", "ramp"]             # the ramp replays from the iteration


@pytest.fixture(scope="module")
def full_run40(tiny_ckpt, tmp_path_factory):
    """The uninterrupted 40-iteration run that interrupted-and-resumed runs must reproduce."""
    out = str(tmp_path_factory.mktemp("foil40") / "full")
    full = _cli([*_args40(tiny_ckpt), "--out", out])
    assert full.wait(timeout=300) == 0, full.stderr.read()
    return out


def _same_as_full(full, run):
    a = read_checkpoint(f"{full}/snapshots/iter-000040.safetensors").state["g"]
    b = read_checkpoint(f"{run}/snapshots/iter-000040.safetensors").state["g"]
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    ra, rb = _rows(full), _rows(run)
    assert [r["iter"] for r in ra] == [r["iter"] for r in rb]
    assert [float(r["loss"] or "nan") for r in ra[:-1]] == pytest.approx([float(r["loss"]) for r in rb[:-1]], abs=1e-5)


def test_resume_after_kill_matches_uninterrupted_run(tiny_ckpt, full_run40, tmp_path):
    args = _args40(tiny_ckpt)

    run = str(tmp_path / "killed")
    p = _cli([*args, "--out", run])
    deadline = time.time() + 300
    while not os.path.exists(f"{run}/snapshots/iter-000020.safetensors"):
        assert p.poll() is None and time.time() < deadline, "run ended before it could be killed"
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    assert p.wait() == -signal.SIGKILL
    assert not os.path.exists(f"{run}/snapshots/iter-000040.safetensors")

    refused = _cli([*args, "--out", run])
    assert refused.wait(timeout=120) == 2 and "--resume" in refused.stderr.read()
    resumed = _cli(["foil", "--out", run, "--resume"])
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    _same_as_full(full_run40, run)


def test_observing_less_often_leaves_the_run_unchanged(tiny_ckpt, full_run40, tmp_path):
    """--observe-every only thins the fixed-seed columns of metrics.csv: the weights, the losses
    and the observed values are those of a run observed at every iteration."""
    run = str(tmp_path / "every")
    p = _cli([*_args40(tiny_ckpt), "--observe-every", "1", "--out", run])
    assert p.wait(timeout=300) == 0, p.stderr.read()
    _same_as_full(run, full_run40)
    every, thin = _rows(run), _rows(full_run40)          # the fixture: default 10, frames every 5
    assert all(r["d_fixed"] and r["sameness"] for r in every)
    assert [int(r["iter"]) for r in thin if r["d_fixed"]] == list(range(0, 41, 5))
    for a, b in zip(every, thin):
        if b["d_fixed"]:
            assert float(a["d_fixed"]) == pytest.approx(float(b["d_fixed"]), rel=1e-4)
    assert all(r["loss"] for r in thin[:-1]) and all(r["param_dist"] for r in thin)


def test_ctrl_c_stops_after_the_iteration_and_resumes_where_it_stopped(tiny_ckpt, full_run40, tmp_path):
    """SIGINT (Ctrl-C, or the studio's cancel): the iteration finishes, the resume state is written
    at the next one (not at the last snapshot), the command exits 0 naming --resume."""
    from safetensors import safe_open
    run = str(tmp_path / "interrupted")
    p = _cli([*_args40(tiny_ckpt), "--out", run])
    deadline = time.time() + 300
    while not os.path.exists(f"{run}/frames/000015.png"):   # past the snapshot at 10
        assert p.poll() is None and time.time() < deadline, "run ended before it could be interrupted"
        time.sleep(0.02)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err[-1000:]
    assert f"uncanny foil --out {run} --resume" in out
    with safe_open(f"{run}/state.safetensors", "pt") as f:
        stopped_at = json.loads(f.metadata()["uncanny_state"])["info"]["iter"]
    assert 15 < stopped_at < 40, stopped_at   # where it was stopped, not the last snapshot (10)
    assert not os.path.exists(f"{run}/snapshots/iter-000040.safetensors") and not os.path.exists(f"{run}/timeline.png")
    assert [int(r["iter"]) for r in _rows(run)] == list(range(stopped_at))   # rows up to the state, no gap
    resumed = _cli(["foil", "--out", run, "--resume"])
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    _same_as_full(full_run40, run)


def _nan_d_ckpt(tiny_ckpt, tmp_path):
    """Finite weights (NaN weights are refused at load) whose logits overflow to inf / NaN."""
    ck = read_checkpoint(tiny_ckpt)
    d = dict(ck.state["d"])
    d["final_linear.1.weight"] = torch.full_like(d["final_linear.1.weight"], 3e38)
    path = str(tmp_path / "overflowing_d.safetensors")
    save_checkpoint(path, "stylegan2", TINY_SG2, {"g_ema": ck.state["g_ema"], "d": d})
    return path


def test_nonfinite_loss_stops_cleanly_with_outputs(tiny_ckpt, tmp_path, capsys):
    model = _nan_d_ckpt(tiny_ckpt, tmp_path)
    out = str(tmp_path / "stop")
    assert main(["foil", "--model", model, "--out", out, "--iters", "20", "--faces-every", "0"]) == 0
    printed = capsys.readouterr().out
    assert "stopped early: non-finite loss at iteration 0" in printed
    assert os.path.isfile(f"{out}/timeline.png") and os.path.isfile(f"{out}/curves.png")
    assert json.load(open(f"{out}/run.json"))["stopped_early"].startswith("non-finite")


def test_nonfinite_steps_can_be_skipped(tiny_ckpt, tmp_path):
    model = _nan_d_ckpt(tiny_ckpt, tmp_path)
    out = str(tmp_path / "cont")
    r = foil(FoilConfig(model=model, out=out, iters=6, snapshots=(0, 6), faces_every=0, on_nonfinite="continue"),
             show_progress=False)
    rows = _rows(out)
    assert r.stopped_early is None and len(rows) == 7
    assert all(row["skipped"] == "1" for row in rows[:-1])
    assert float(rows[-1]["param_dist"]) == 0.0     # no bad update was applied


@pytest.mark.parametrize("argv,needle", [
    (["--iters", "0"], "--iters 0"), (["--iters", "-3"], "--iters -3"), (["--lr", "-1"], "--lr -1"),
    (["--batch", "0"], "--batch 0"),
])
def test_bad_options_give_one_line_errors(tiny_ckpt, tmp_path, capsys, argv, needle):
    assert main(["foil", "--model", tiny_ckpt, "--out", str(tmp_path / "r"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("uncanny: error: " + needle) and "\n" not in err
    assert not os.path.exists(tmp_path / "r")


def test_unwritable_out_and_missing_model(tiny_ckpt, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["foil", "--model", tiny_ckpt, "--out", str(blocker / "run"), "--iters", "2"]) == 2
    assert "is not a writable folder" in capsys.readouterr().err
    assert main(["foil", "--model", str(tmp_path / "none.safetensors"), "--out", str(tmp_path / "r")]) == 2
    assert "none.safetensors: no such checkpoint file" in capsys.readouterr().err


def test_existing_run_is_never_clobbered_without_overwrite(short_run, capsys):
    out, _ = short_run
    before = os.path.getmtime(f"{out}/metrics.csv")
    assert main(["foil", "--out", out, "--iters", "5"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert os.path.getmtime(f"{out}/metrics.csv") == before


def test_stage_labels_follow_the_metrics():
    rows = []
    for i in range(0, 101, 10):  # D falls steadily; diversity holds, then collapses at the end
        rows.append({"iter": i, "d_fixed": 2 - 0.1 * i, "diversity": 0.4 if i < 80 else 0.05,
                     "grad_norm": 1.0, "face_rate": 0.9 if i <= 40 else 0.1})
    stages, peak = label_stages(rows, [0, 20, 40, 60, 100])
    # D's fall before collapse (from 2 to -5 at 70): 2/7 covered by 20, 4/7 by 40; diversity ends at 1/8
    assert stages == {0: "divergence", 20: "divergence", 40: "convergence", 60: "convergence", 100: "collapse"}
    assert peak == 40   # fakeness 0.57 x faces 1.0 beats 0.86 x 0.11


def test_one_shared_layout_is_a_collapse_even_when_pixels_stay_diverse():
    """Rows shaped like the bare 2000-iteration run: diversity never falls (the collapsed images
    are one high-contrast pattern at shifted places), sameness rises from 0.2 to 0.8 at the end."""
    rows = [{"iter": i, "d_fixed": -1.4 - 0.01 * i - (400 if i == 2000 else 0), "diversity": 0.37 + 0.00003 * i,
             "grad_norm": 15.0, "face_rate": 1.0 if i <= 1000 else 0.0,
             "sameness": 0.8 if i == 2000 else 0.4 if i == 1500 else 0.2} for i in range(0, 2001, 250)]
    stages, peak = label_stages(rows, [0, 250, 500, 750, 1000, 1500, 2000])
    assert stages[2000] == "collapse" and stages[1500] == "convergence" and stages[250] == "divergence"
    without = [{k: v for k, v in r.items() if k != "sameness"} for r in rows]   # runs recorded before the column
    assert label_stages(without, [0, 1000, 2000])[0][2000] == "convergence"
    alike = [{**r, "sameness": 0.7} for r in rows]    # samples alike from the start (a tiny model): no collapse
    assert label_stages(alike, [0, 1000, 2000])[0][2000] == "convergence"


def test_a_layout_shared_by_every_face_is_convergence_and_one_image_is_collapse():
    """Snapshot rows of two runs on faces64v2's 359.4 kimg state. The demo's setting (hinge, ramp
    3e-4, 200 iterations): at 125 every face has turned into the same red clown face, each keeping
    its own shape (sameness 0.53, faces still found in 12 of 16): convergence, by the shared
    layout alone. The bare 2000-iteration run: at 1500 the clown face again (sameness 0.64, faces
    gone), convergence and not collapse; at 2000 one white image."""
    demo = [(0, 1.0, -0.1581, 0.36469, 0.2115, 10.527), (25, 1.0, -0.20774, 0.36328, 0.2118, 14.401),
            (50, 1.0, -0.65217, 0.35842, 0.2168, 11.261), (75, 0.8125, -1.692, 0.35491, 0.2797, 8.0228),
            (100, 0.875, -2.8132, 0.34366, 0.3856, 8.1817), (125, 0.75, -4.3799, 0.33897, 0.5319, 5.7643),
            (150, 0.0, -330.25, 0.24173, 0.5446, 252.03), (175, 0.0, -265490.0, 0.0, 0.0, 89639.0),
            (200, 0.0, -31856000.0, 0.0, 0.0, float("nan"))]
    bare = [(0, 1.0, -0.1581, 0.36469, 0.2115, 10.527), (250, 1.0, -0.19688, 0.36395, 0.2122, 9.4754),
            (500, 0.9375, -0.57452, 0.35998, 0.2179, 10.588), (750, 0.875, -1.6193, 0.35713, 0.2677, 8.4407),
            (1000, 0.9375, -2.6836, 0.3527, 0.3598, 4.9571), (1500, 0.0625, -18.595, 0.37456, 0.6417, 19.539),
            (2000, 0.0, -6847.9, 0.0, 0.0, float("nan"))]

    def rows(table):
        return [{"iter": i, "face_rate": f, "d_fixed": d, "diversity": v, "sameness": m, "grad_norm": g}
                for i, f, d, v, m, g in table]

    stages, peak = label_stages(rows(demo), [t[0] for t in demo])
    assert [stages[i] for i in (100, 125, 150, 175)] == ["divergence", "convergence", "convergence", "collapse"]
    assert peak == 125
    without = [{k: v for k, v in r.items() if k != "sameness"} for r in rows(demo)]
    assert label_stages(without, [t[0] for t in demo])[0][125] == "divergence"   # the shared layout decided it
    stages, peak = label_stages(rows(bare), [t[0] for t in bare])
    assert [stages[i] for i in (1000, 1500, 2000)] == ["divergence", "convergence", "collapse"] and peak == 1000


def test_a_shared_layout_is_collapse_only_once_the_faces_are_gone():
    """Snapshot rows of a run on faces64v2's 499.6 kimg state (hinge, ramp 4.5e-4, 200 iterations).
    At 125 every face has turned into the same red clown face on a dark ground (sameness 0.73, over
    the one-image level) while dlib still finds 13 of 16 faces, each with its own hair and shape:
    convergence. At 150 the faces are gone and the one pattern remains (0.89): collapse."""
    table = [(0, 1.0, -0.28927, 0.37442, 0.2035, 9.2666), (25, 1.0, -0.39557, 0.3673, 0.2106, 7.9034),
             (50, 1.0, -0.97318, 0.33317, 0.2646, 9.2783), (75, 0.875, -2.1266, 0.31191, 0.3798, 6.6958),
             (100, 0.8125, -3.8402, 0.29006, 0.5748, 4.7403), (125, 0.8125, -5.5873, 0.27749, 0.733, 3.1657),
             (150, 0.0, -16.614, 0.26479, 0.8859, 7.3455), (175, 0.0, -359150.0, 0.0, 0.0, 101090.0),
             (200, 0.0, -1619000000.0, 0.0, 0.0, float("nan"))]
    rows = [{"iter": i, "face_rate": f, "d_fixed": d, "diversity": v, "sameness": m, "grad_norm": g}
            for i, f, d, v, m, g in table]
    stages, peak = label_stages(rows, [t[0] for t in table])
    assert [stages[i] for i in (75, 100, 125, 150, 175)] == ["divergence", "convergence", "convergence", "collapse",
                                                             "collapse"]
    assert peak == 125
    gone = [{**r, "face_rate": 0.25} if r["iter"] == 125 else r for r in rows]   # had the faces gone by then
    assert label_stages(gone, [t[0] for t in table])[0][125] == "collapse"
    unmeasured = [{k: v for k, v in r.items() if k != "face_rate"} for r in rows]   # runs without dlib: as before
    assert label_stages(unmeasured, [t[0] for t in table])[0][125] == "collapse"


def test_exploding_logits_of_a_collapse_do_not_hide_convergence():
    """Snapshot rows of a real run (faces64v2's 214.8 kimg state, hinge, ramp 3.5e-4, 200 iterations): after collapse
    D's logit runs to -3.5e7, which would make -51 at iteration 150 look like no fall at all."""
    table = [(0, 1.0, -1.4386, 0.36792, 17.717), (25, 1.0, -1.6654, 0.37384, 17.818), (50, 1.0, -2.7846, 0.3971, 11.243),
             (75, 1.0, -4.2272, 0.42007, 14.87), (100, 0.9375, -6.5968, 0.44595, 14.148),
             (125, 0.1875, -11.731, 0.44882, 28.472), (150, 0.0, -51.46, 0.4459, 65.853),
             (175, 0.0, -85921, 0.061998, 33080), (200, 0.0, -3.5384e7, 0.0, float("nan"))]
    rows = [{"iter": i, "face_rate": f, "d_fixed": d, "diversity": v, "grad_norm": g} for i, f, d, v, g in table]
    stages, peak = label_stages(rows, [t[0] for t in table])
    assert [stages[i] for i in (100, 125, 150, 175, 200)] == ["divergence", "divergence", "convergence", "collapse",
                                                              "collapse"]
    assert peak == 100  # 5.2/50 of the fall x 0.94 of the faces


def test_foil_runs_on_the_gan_face_generate_dcgan(tmp_path):
    """The packaged DigiFace DCGAN generator (real weights) against a fresh DCGAN discriminator."""
    from uncanny import adapters
    from uncanny.adapters.dcgan import package_weights
    sd = package_weights()
    torch.manual_seed(0)
    _, D = adapters.build("dcgan", {})
    path = str(tmp_path / "digiface.safetensors")
    save_checkpoint(path, "dcgan", {}, {"g_ema": sd, "d": D.state_dict()})
    out = str(tmp_path / "run")
    r = foil(FoilConfig(model=path, out=out, iters=8, snapshots=(0, 8), faces_every=0), show_progress=False)
    rows = _rows(out)
    assert float(rows[-1]["d_fixed"]) < float(rows[0]["d_fixed"])
    ck = read_checkpoint(r.snapshots[8])
    assert ck.arch == "dcgan" and "main.1.running_mean" in ck.state["g"]   # BatchNorm statistics kept


def test_missing_model_leaves_no_run_folder_behind(tmp_path, tiny_ckpt, capsys):
    out = str(tmp_path / "r")
    assert main(["foil", "--model", str(tmp_path / "typo.safetensors"), "--out", out, "--iters", "2"]) == 2
    assert not os.path.exists(out)
    assert main(["foil", "--model", tiny_ckpt, "--out", out, "--iters", "2", "--faces-every", "0"]) == 0
    other = str(tmp_path / "d64.safetensors")
    from uncanny import adapters
    G, D = adapters.build("stylegan2", dict(TINY_SG2, size=32))
    save_checkpoint(other, "stylegan2", dict(TINY_SG2, size=32), {"g": G, "d": D})
    assert main(["foil", "--model", tiny_ckpt, "--d-model", other, "--out", str(tmp_path / "s"), "--iters", "2"]) == 2
    assert "cannot judge the generator's 16 px images" in capsys.readouterr().err


def test_arc_criteria_on_rows():
    """The demo's arc judged from metrics rows: faces kept at the first snapshot, peak in the
    middle third, faces gone only in the last third, all three stages; each failure is named."""
    from uncanny.foil import arc_criteria

    def rows(face_rates, r=0.6, b=0.4):
        return [{"iter": str(i), "face_rate": str(f), "mean_r": str(r), "mean_b": str(b)}
                for i, f in zip(range(0, 301, 25), face_rates)]
    good_rates = [1, 1, 1, 1, 0.9, 0.8, 0.6, 0.5, 0.4, 0.3, 0.05, 0, 0]
    stages = {0: "divergence", 38: "divergence", 75: "divergence", 112: "convergence", 150: "convergence",
              188: "convergence", 225: "convergence", 262: "collapse", 300: "collapse"}
    ok = arc_criteria(rows(good_rates), stages, 150, 300)
    assert ok["arc"] and ok["faces_gone_at"] == 250 and ok["mean_r_minus_b"] == pytest.approx(0.2)
    early = arc_criteria(rows([1, 0.5, 0.05] + [0] * 10), stages, 150, 300)
    assert not early["arc"] and not early["keeps_faces_first"] and not early["faces_gone_late"]
    late_peak = arc_criteria(rows(good_rates), stages, 262, 300)
    assert not late_peak["arc"] and not late_peak["peak_in_middle_third"]
    no_collapse = arc_criteria(rows(good_rates), {k: v.replace("collapse", "convergence") for k, v in stages.items()}, 150, 300)
    assert not no_collapse["arc"] and not no_collapse["all_three_stages"]


def test_ramp_schedule_rises_linearly_to_twice_the_mean():
    """--lr-schedule ramp: the update of iteration i uses 2 lr (i + 1) / iters, rising to 2 lr at the
    last update, with mean lr over the run; constant keeps lr."""
    ramp = FoilConfig(out="x", iters=200, lr=1e-3, lr_schedule="ramp")
    lrs = [ramp.lr_at(i) for i in range(200)]
    assert all(b > a for a, b in zip(lrs, lrs[1:])) and lrs[-1] == pytest.approx(2e-3)
    assert sum(lrs) / 200 == pytest.approx(1e-3, rel=0.01)
    assert {FoilConfig(out="x", iters=200, lr=1e-3, lr_schedule="constant").lr_at(i) for i in (0, 100, 199)} == {1e-3}


def test_a_run_recorded_before_the_lr_schedule_option_resumes_with_a_constant_rate():
    """The default schedule is now ramp; a run whose run.json predates the option was trained with a
    constant rate and must resume with one."""
    from dataclasses import asdict
    old = asdict(FoilConfig(out="x", lr_schedule="constant"))
    del old["lr_schedule"]
    assert FoilConfig.resumed(old, FoilConfig(out="y")).lr_schedule == "constant"
    assert FoilConfig.resumed(asdict(FoilConfig(out="x")), FoilConfig(out="y")).lr_schedule == "ramp"


def test_an_error_inside_the_loop_gives_ctrl_c_back(tiny_ckpt, tmp_path, monkeypatch):
    """foil() used from Python: if the loop raises, the Ctrl-C handler it installed is removed
    again (otherwise a later Ctrl-C in the same session would be swallowed)."""
    import uncanny.foil as foil_module

    def broken(samples):
        raise RuntimeError("detector broke")
    monkeypatch.setattr(foil_module, "face_rate", broken)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(RuntimeError, match="detector broke"):
        foil(FoilConfig(model=tiny_ckpt, out=str(tmp_path / "run"), iters=4, snapshots=(0, 4), faces_every=2),
             show_progress=False)
    assert signal.getsignal(signal.SIGINT) is before
