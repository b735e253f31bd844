"""The uncanny-valley study: create from a foil run and photos, a participant's whole session
(consent, randomised trials, every response stored before the next trial), CSV export, deleting a
participant, the analysis; participants reach nothing but their study."""

import csv
import io
import re

import pytest

from uncanny.cli import main

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from uncanny.studio import create_app  # noqa: E402


@pytest.fixture(scope="module")
def studio(tiny_ckpt, tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    assert main(["foil", "--model", tiny_ckpt, "--out", str(root / "foil1"), "--iters", "4", "--snapshots", "0,2,4",
                 "--faces-every", "2", "--seeds", "0-3"]) == 0
    app = create_app(str(root), token="tk")
    c = TestClient(app)
    c.cookies.set("uncanny_studio", "tk")
    r = c.post("/api/studies", data={"name": "valley", "runs": ["foil1"], "photos": "2", "real_or_fake": "on"})
    assert r.status_code == 200            # (followed the redirect to the study page)
    key = re.search(r"/p/([A-Za-z0-9_-]+)", r.text).group(1)
    return app, c, key


def _session(app, key, answers):
    p = TestClient(app)                    # a participant: no studio token
    assert "I agree" in p.get(f"/p/{key}").text
    r = p.post(f"/p/{key}/consent")
    seen = []
    while "Thank you" not in r.text:
        stim = int(re.search(r"name='stimulus' value='(\d+)'", r.text).group(1))
        seen.append(stim)
        assert p.get(f"/p/{key}/img/{stim}").content[:4] == b"\x89PNG"
        r = p.post(f"/p/{key}/respond", data={"stimulus": stim, "shown": "0", **answers, "choice": "real"})
    return p, seen


def test_a_whole_session_is_stored_exported_and_analysed(studio):
    app, c, key = studio
    answers = {"humanness": "5", "eeriness": "2", "attractiveness": "4"}
    p1, order1 = _session(app, key, answers)
    p2, order2 = _session(app, key, answers)
    assert sorted(order1) == sorted(order2) and len(order1) == 5           # 3 snapshots + 2 photos
    rows = list(csv.DictReader(io.StringIO(c.get("/api/studies/1/export.csv").text)))
    assert len(rows) == 10 and {r["humanness"] for r in rows} == {"5"}
    page = c.get("/study/1/analysis").text
    assert "real_or_fake_accuracy" in page and c.get("/study/1/analysis.png").content[:4] == b"\x89PNG"
    pid = rows[0]["participant"]
    assert c.post(f"/api/studies/1/participants/{pid}/delete").json()["deleted_responses"] == 5
    assert len(list(csv.DictReader(io.StringIO(c.get("/api/studies/1/export.csv").text)))) == 5


def test_participants_reach_only_their_study_and_bad_answers_are_refused(studio):
    app, c, key = studio
    p = TestClient(app)
    assert p.get("/api/runs").status_code == 401 and p.get("/study").status_code == 401
    assert p.get("/p/not-a-key").status_code == 404
    assert p.post(f"/p/{key}/respond", data={"stimulus": "1"}).status_code == 403      # no consent yet
    r = p.post(f"/p/{key}/consent")
    stim = int(re.search(r"name='stimulus' value='(\d+)'", r.text).group(1))
    for bad in ({"humanness": "9", "eeriness": "2", "attractiveness": "4"}, {"humanness": "5"}):
        assert p.post(f"/p/{key}/respond", data={"stimulus": stim, **bad}).status_code == 400
    assert p.get(f"/p/{key}/img/99999").status_code == 404
