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
