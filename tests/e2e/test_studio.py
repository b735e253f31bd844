"""The studio (first part: browsing): token required, runs listed and shown from their own files,
nothing outside RUNS_DIR served."""

import os

import pytest

from uncanny.cli import main

fastapi = pytest.importorskip("fastapi")       # a dependency of the package; skip only in a broken install
from fastapi.testclient import TestClient  # noqa: E402

from uncanny.studio import create_app  # noqa: E402


@pytest.fixture(scope="module")
def runs(tiny_ckpt, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    assert main(["foil", "--model", tiny_ckpt, "--out", str(root / "foil1"), "--iters", "4", "--snapshots", "0,2,4",
                 "--faces-every", "0", "--seeds", "0-3"]) == 0
    (root / "notes").mkdir()                       # not a run: not listed
    (tmp_path_factory.mktemp("outside") / "secret.txt").write_text("secret")
    return str(root)


def _client(runs):
    app = create_app(runs, token="t0k")
    c = TestClient(app)
    assert c.get("/api/runs").status_code == 401          # no token, no studio
    assert c.get("/?token=wrong").status_code == 401
    r = c.get("/?token=t0k", follow_redirects=False)
    assert r.status_code == 303 and "uncanny_studio" in r.headers.get("set-cookie", "")
    c.cookies.set("uncanny_studio", "t0k")
    return c


def test_runs_are_listed_and_a_foil_run_shows_its_snapshots(runs):
    c = _client(runs)
    assert c.get("/api/runs").json() == [{"name": "foil1", "verb": "foil"}]
    info = c.get("/api/runs/foil1").json()
    assert [s["iter"] for s in info["snapshots"]] == [0, 2, 4] and info["peak"] in (0, 2, 4)
    assert all(s["stage"] in ("divergence", "convergence", "collapse") for s in info["snapshots"])
    page = c.get("/runs/foil1").text
    assert 'type="range"' in page and "suggested peak" in page
    grid = c.get("/files/" + info["snapshots"][-1]["grid"])
    assert grid.status_code == 200 and grid.content[:4] == b"\x89PNG"
    assert c.get("/files/foil1/curves.png").status_code == 200
    assert "foil1" in c.get("/").text


def test_nothing_outside_the_runs_folder_is_served(runs, tmp_path):
    c = _client(runs)
    outside = os.path.join(os.path.dirname(runs), "outside0", "secret.txt")
    os.symlink(os.path.dirname(outside), os.path.join(runs, "foil1", "link"))
    for rel in ("../outside0/secret.txt", "%2e%2e/outside0/secret.txt", "foil1/../../outside0/secret.txt",
                "foil1/link/secret.txt", "/etc/passwd", "foil1/run.json/../../../etc/passwd"):
        r = c.get("/files/" + rel)
        assert r.status_code == 404 and b"secret" not in r.content, rel
    assert c.get("/api/runs/..").status_code == 404 and c.get("/runs/notes").status_code == 404


def test_launch_a_foil_job_watch_it_and_see_the_run_appear(runs, tiny_ckpt):
    import time
    c = _client(runs)
    bad = c.post("/api/jobs/foil", json={"name": "x", "options": {"model": tiny_ckpt, "iters": -5}})
    assert bad.status_code == 400 and "--iters -5" in bad.json()["detail"]
    bad = c.post("/api/jobs/foil", json={"name": "../escape", "options": {"model": tiny_ckpt}})
    assert bad.status_code == 400
    bad = c.post("/api/jobs/foil", json={"name": "y", "options": {"model": tiny_ckpt, "out": "/tmp/x"}})
    assert bad.status_code == 400                                   # the studio decides where runs go
    job = c.post("/api/jobs/foil", json={"name": "launched", "options": {
        "model": tiny_ckpt, "iters": 6, "snapshots": [0, 3, 6], "faces_every": 0, "sample_seeds": [0, 1, 2, 3]}}).json()
    assert job["state"] == "running"
    t0 = time.time()
    assert c.get("/api/runs").status_code == 200 and time.time() - t0 < 1      # the server answers meanwhile
    events = c.get(f"/api/jobs/{job['id']}/events").text                     # streams until the job ends
    assert events.count("data: ") >= 1 and '"state": "done"' in events, events[-500:]
    assert {"name": "launched", "verb": "foil"} in c.get("/api/runs").json()
    assert [s["iter"] for s in c.get("/api/runs/launched").json()["snapshots"]] == [0, 3, 6]


def test_a_job_can_be_cancelled_and_uploads_are_checked(runs, tiny_ckpt, celeba_photos):
    import time
    c = _client(runs)
    job = c.post("/api/jobs/foil", json={"name": "long", "options": {"model": tiny_ckpt, "iters": 100000,
                                                                        "faces_every": 0}}).json()
    time.sleep(3)
    assert c.post(f"/api/jobs/{job['id']}/cancel").status_code == 200
    for _ in range(100):
        if c.get(f"/api/jobs/{job['id']}").json()["state"] != "running":
            break
        time.sleep(0.2)
    assert c.get(f"/api/jobs/{job['id']}").json()["state"] == "cancelled"
    r = c.post("/api/jobs/project", data={"name": "notaphoto"}, files={"photo": ("x.png", b"not an image", "image/png")})
    assert r.status_code == 400 and "not a usable photo" in r.json()["detail"]
    r = c.post("/api/jobs/project", data={"name": "big"}, files={"photo": ("x.png", b"0" * (11 << 20), "image/png")})
    assert r.status_code == 413
    r = c.post("/api/jobs/project", data={"name": "me", "steps": "2"},
               files={"photo": ("me.jpg", open(celeba_photos[0], "rb").read(), "image/jpeg")})
    assert r.status_code == 200 and r.json()["kind"] == "project"


def test_detect_and_edit_runs_have_their_pages_and_a_long_run_opens_fast(runs, tiny_ckpt, celeba_photos):
    import csv
    import shutil
    import time
    assert main(["detect", celeba_photos[0], "--out", os.path.join(runs, "det1")]) == 0
    c = _client(runs)
    info = c.get("/api/runs/det1").json()
    assert info["verb"] == "detect" and info["images"][0]["verdict"] in ("real", "fake")
    assert c.get("/files/" + info["images"][0]["map"]).status_code == 200
    assert "where it looks" in c.get("/runs/det1").text
    long = os.path.join(runs, "long2000")                   # a foil run with 2,000 iterations of metrics
    shutil.copytree(os.path.join(runs, "foil1"), long)
    rows = list(csv.DictReader(open(os.path.join(long, "metrics.csv"))))
    with open(os.path.join(long, "metrics.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for i in range(2001):
            w.writerow({**rows[0], "iter": i})
    t = time.perf_counter()
    assert c.get("/runs/long2000").status_code == 200 and c.get("/api/runs/long2000").status_code == 200
    assert time.perf_counter() - t < 0.3


def test_an_animate_run_has_its_page(runs, celeba_photos, tmp_path):
    from PIL import Image

    from uncanny import motion
    from uncanny.faces import load_image
    img = load_image(celeba_photos[6])
    frames, _ = motion.motion_clip(img, motion.detect_landmarks(img), "jaw", n=4, amount=0.3)
    for t, f in enumerate(frames):
        Image.fromarray(f).save(tmp_path / f"{t}.png")
    assert main(["animate", celeba_photos[1], str(tmp_path), "--out", os.path.join(runs, "anim1")]) == 0
    c = _client(runs)
    info = c.get("/api/runs/anim1").json()
    assert info["verb"] == "animate" and info["frames"] == 4 and info["numbers"]["driving_faces_found"] == 4
    page = c.get("/runs/anim1").text
    assert "side_by_side.mp4" in page and "landmark error" in page
    assert c.get("/files/" + info["side_by_side"]).status_code == 200


def test_a_training_run_shows_its_progress_samples_and_curves(celeba_photos, tmp_path):
    from uncanny.data import prepare
    from uncanny.train import TrainConfig, train
    src = tmp_path / "photos"
    src.mkdir()
    for p in celeba_photos[:6]:
        (src / os.path.basename(p)).write_bytes(open(p, "rb").read())
    prepare(str(src), str(tmp_path / "faces16"), res=16, show_progress=False)
    root = tmp_path / "runs"
    train(TrainConfig(data=str(tmp_path / "faces16"), out=str(root / "t1"), kimg=0.06, batch=4, style_dim=32,
                      channel_base=256, channel_max=16, snap=0.02, n_sample=8), show_progress=False)
    c = _client(str(root))
    info = c.get("/api/runs/t1").json()
    assert info["verb"] == "train" and info["step"] == "15" and info["kimg"] == 0.06 and info["target"] == 0.06
    assert [g["kimg"] for g in info["grids"]] == [0.0, 0.02, 0.04, 0.06]       # every snapshot's sample grid
    assert all(c.get("/files/" + g["grid"]).content[:4] == b"\x89PNG" for g in info["grids"])
    assert c.get("/files/" + info["curves"]).content[:4] == b"\x89PNG"
    page = c.get("/runs/t1").text
    assert "0.060</b> of 0.06 kimg (100%)" in page and "--resume" in page and 'type="range"' in page


def test_a_run_named_like_markup_is_shown_as_text_and_its_files_still_load(runs, tmp_path):
    """A run folder may be called anything: its name never becomes markup or script, and the
    links built from it still reach its files."""
    import re
    import shutil
    import urllib.parse
    name = "a'b\" <script>alert(1)<\\script><img src=x onerror=alert(1)> #?%"   # anything but a slash
    root = tmp_path / "root"
    shutil.copytree(os.path.join(runs, "foil1"), root / name, ignore=shutil.ignore_patterns(".lock"))
    c = _client(str(root))
    index = c.get("/").text
    assert "<img src=x" not in index
    href = re.search(r"<li><a href='([^']+)'>", index).group(1)
    page = c.get(href).text
    assert c.get(href).status_code == 200 and "<img src=x" not in page and "<script>alert" not in page
    srcs = re.findall(r"""<img src=["']([^"']+)["']""", page)
    assert srcs and all(c.get(u).status_code == 200 for u in srcs)
    snaps = c.get("/api/runs/" + urllib.parse.quote(name, safe="")).json()["snapshots"]
    assert c.get("/files/" + urllib.parse.quote(snaps[0]["grid"])).status_code == 200


def test_cancel_stops_a_job_that_ignores_its_interrupt(tmp_path, monkeypatch):
    """A SIGINT swallowed (as by a library's bare except during import) is followed by SIGTERM."""
    import subprocess
    import sys
    import time

    from uncanny.studio import jobs as jobs_mod
    monkeypatch.setattr(jobs_mod, "CANCEL_GRACE_S", 0.5)
    js = jobs_mod.Jobs(str(tmp_path))
    job = jobs_mod.Job("j1", "foil", "stubborn", [], str(tmp_path / "j1.log"))
    job.proc = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGINT, "
                                 "signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"], stdout=subprocess.PIPE)
    assert job.proc.stdout.readline() == b"ready\n"
    js.jobs[job.id] = job
    js.cancel(job.id)
    t0 = time.time()
    while job.proc.poll() is None and time.time() - t0 < 10:
        time.sleep(0.05)
    assert job.proc.poll() is not None and time.time() - t0 < 5
    assert js.status(job.id)["state"] == "cancelled"
