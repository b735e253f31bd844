"""scripts/quality_trend.py: where the value labels go (a pure function of the row of values), the
power-law fit, and the script end to end on two measurement files, with a bad --mark refused."""

import json
import os
import subprocess
import sys

import numpy as np

from ..conftest import SCRIPTS, load_script

SCRIPT = os.path.join(SCRIPTS, "quality_trend.py")


def test_label_side_keeps_labels_off_the_line():
    side = load_script("quality_trend").label_side
    x = np.array([12.3, 10.3, 7.5, 7.4, 5.9, 5.65, 4.11, 4.24])
    assert side(x, 0)["va"] == "bottom" and side(x, 0)["xytext"][1] > 0   # first point, higher than the next: above
    assert side(x, 6)["va"] == "top" and side(x, 6)["xytext"][1] < 0      # a valley: below
    assert (side(x, 7)["ha"], side(x, 7)["va"]) == ("left", "center")     # the last: to its right
    # on a falling stretch, neighbours go to opposite sides of the line: below-left, then above-right
    a, b = side(x, 4), side(x, 5)
    assert (a["ha"], a["va"]) == ("right", "top") and (b["ha"], b["va"]) == ("left", "bottom")
    # on a rising stretch: below-right, clear of the line and of the points before it
    up = np.array([1.0, 2.0, 3.0, 4.0])
    assert all((side(up, i)["ha"], side(up, i)["va"]) == ("left", "top") for i in (1, 2))


def test_labelled_spaces_the_labels_but_keeps_the_first_last_and_lowest():
    labelled = load_script("quality_trend").labelled
    k = np.array([48, 92, 143, 191, 295, 310, 314, 319, 322, 339, 344, 354, 359], float)
    x = np.array([12.3, 10.3, 7.5, 7.4, 3.84, 3.40, 3.46, 3.62, 3.51, 3.61, 3.51, 3.53, 3.45])
    got = labelled(k, x)
    assert {0, 5, 12} <= set(got)                                  # first, lowest (310), last
    assert all(k[b] >= k[a] * 1.05 for a, b in zip(got, got[1:]))  # no two labels closer than that
    assert got == [0, 1, 2, 3, 4, 5, 9, 12]                         # 314-322 crowd 310; 344, 354 crowd 359
    assert labelled(np.array([100.0, 101.0]), np.array([5.0, 4.0])) == [0, 1]   # both forced, however close


def test_crowded_recipe_marks_alternate_rows():
    staggered = load_script("quality_trend").staggered
    # faces64v2's changes: 265 and 273 crowd, 327 and 345 crowd, 359 is near 345 (alternates back)
    assert staggered([191, 265, 273, 327, 345, 359, 384]) == [False, False, True, False, True, False, False]
    assert staggered([100, 101, 102, 103]) == [False, True, False, True] and staggered([]) == []


def test_fit_power_law_recovers_its_exponent():
    k = np.array([100.0, 200.0, 400.0])
    a, b = load_script("quality_trend").fit_power_law(k, 50.0 * k ** -0.5)
    assert abs(a - 50.0) < 1e-6 and abs(b + 0.5) < 1e-9


def _write(path, x):
    q = {"samples": {"x_floor": x, "face_rate": 0.98}, "zero_noise": {"x_floor": x},
         "memorisation": {"share": 0.0}}
    with open(path, "w") as f:
        json.dump(q, f)


def _write_run(folder, prefix, points):
    """PREFIX-kimgNNN.json in `folder` for each {kimg: x_floor}; returns the prefix's path."""
    for kimg, x in points.items():
        _write(folder / f"{prefix}-kimg{kimg}.json", x)
    return str(folder / prefix)


def test_script_draws_the_trend_and_refuses_a_bad_mark(tmp_path):
    _write(tmp_path / "run-kimg100.json", 8.0)
    _write(tmp_path / "run-kimg200.json", 4.0)
    out = tmp_path / "trend.png"
    r = subprocess.run([sys.executable, SCRIPT, str(tmp_path / "run"), "--out", str(out), "--mark", "150:lr 0.001"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size > 10_000
    assert "3x near 267 kimg" in r.stdout   # x = 800 / k through both points crosses 3 at k = 266.7
    bad = subprocess.run([sys.executable, SCRIPT, str(tmp_path / "run"), "--out", str(out), "--mark", "soon:lr"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "--mark 'soon:lr'" in bad.stderr and "Traceback" not in bad.stderr
    # a rising fit is drawn across its points only and says so, with no crossing made up
    _write(tmp_path / "run-kimg300.json", 5.0)
    r = subprocess.run([sys.executable, SCRIPT, str(tmp_path / "run"), "--out", str(out), "--fit", "2"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "not falling" in r.stdout and "3x near" not in r.stdout


def test_drop_overlapping_keeps_the_forced_label_and_any_clear_one():
    from uncanny.plots import plt
    drop = load_script("quality_trend").drop_overlapping
    fig, ax = plt.subplots()
    texts = [ax.text(0.5, 0.5, "3.44x"), ax.text(0.502, 0.5, "3.46x"), ax.text(0.1, 0.1, "7.40x")]
    drop(fig, texts, keep=[0])
    assert [t.axes is not None for t in texts] == [True, False, True]   # the one on top of a kept label goes
    plt.close(fig)


def test_zoom_panel_needs_two_states_from_its_start(tmp_path):
    _write_run(tmp_path, "run", {100: 8.0, 200: 4.0, 300: 3.5})
    out = tmp_path / "trend.png"
    r = subprocess.run([sys.executable, SCRIPT, str(tmp_path / "run"), "--out", str(out), "--zoom", "200"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    from PIL import Image
    assert Image.open(out).size[1] > 700   # the second panel makes the figure taller (8 in, not 4.5)
    bad = subprocess.run([sys.executable, SCRIPT, str(tmp_path / "run"), "--out", str(out), "--zoom", "250"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "--zoom 250" in bad.stderr and "Traceback" not in bad.stderr


def test_branches_are_drawn_as_their_own_lines_and_a_missing_one_is_refused(tmp_path):
    from uncanny.plots import plt
    trend = load_script("quality_trend")
    _write_run(tmp_path, "run", {100: 8.0, 200: 4.0, 300: 3.5})
    _write_run(tmp_path, "side", {250: 3.2, 260: 3.1})
    fig, ax = plt.subplots()
    xs = trend.draw_branches(ax, [("mixing 0", trend.read_points(str(tmp_path / "side")))], values=True)
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "branch: mixing 0"]
    assert list(line.get_xdata()) == [250, 260] and list(line.get_ydata()) == [3.2, 3.1] and xs == [3.2, 3.1]
    assert [t.get_text() for t in ax.texts] == ["3.20", "3.10"]
    plt.close(fig)
    out = tmp_path / "trend.png"
    r = subprocess.run([sys.executable, SCRIPT, str(tmp_path / "run"), "--out", str(out), "--zoom", "200",
                        "--branch", f"{tmp_path / 'side'}:mixing 0"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    bad = subprocess.run([sys.executable, SCRIPT, str(tmp_path / "run"), "--out", str(out),
                          "--branch", f"{tmp_path / 'nowhere'}:x"], capture_output=True, text=True)
    assert bad.returncode != 0 and "nowhere" in bad.stderr and "Traceback" not in bad.stderr


def test_every_branch_is_drawn_however_many_there_are(tmp_path):
    # more branches than styles: none may be dropped (zip against the style list once did)
    from uncanny.plots import plt
    trend = load_script("quality_trend")
    n = len(trend.BRANCH_STYLES) + 2
    for i in range(n):
        _write(tmp_path / f"side{i}-kimg250.json", 3.0 + i / 10)
    fig, ax = plt.subplots()
    branches = [(f"b{i}", trend.read_points(str(tmp_path / f"side{i}"))) for i in range(n)]
    xs = trend.draw_branches(ax, branches)
    labels = {ln.get_label() for ln in ax.get_lines()}
    assert {f"branch: b{i}" for i in range(n)} <= labels and len(xs) == n
    plt.close(fig)


def test_a_branch_of_a_branch_is_joined_to_the_branch_it_split_from(tmp_path):
    from uncanny.plots import plt
    trend = load_script("quality_trend")
    _write_run(tmp_path, "run", {100: 8.0, 200: 4.0, 300: 3.5})
    side = trend.read_points(_write_run(tmp_path, "side", {310: 3.3, 320: 3.2}))
    twig = trend.read_points(_write_run(tmp_path, "twig", {330: 3.0}))
    main = trend.read_points(str(tmp_path / "run"))
    fig, ax = plt.subplots()
    trend.draw_branches(ax, [("side", side), ("twig", twig, side)], main)
    joins = [ln for ln in ax.get_lines() if ln.get_linewidth() > 0]   # the joining lines (the markers have none)
    assert [list(ln.get_xdata()) for ln in joins] == [[300, 310, 320], [320, 330]]   # twig from side's 320, not 300
    plt.close(fig)
    out = tmp_path / "trend.png"
    ok = subprocess.run([sys.executable, SCRIPT, str(tmp_path / "run"), "--out", str(out),
                         "--branch", f"{tmp_path / 'side'}:side", "--branch", f"{tmp_path / 'twig'}:twig:{tmp_path / 'side'}"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and out.exists(), ok.stderr
    bad = subprocess.run([sys.executable, SCRIPT, str(tmp_path / "run"), "--out", str(out),
                          "--branch", f"{tmp_path / 'twig'}:twig:{tmp_path / 'side'}"], capture_output=True, text=True)
    assert bad.returncode != 0 and "not a branch given before it" in bad.stderr and "Traceback" not in bad.stderr


def test_the_carried_line_follows_each_branch_from_where_it_split():
    trend = load_script("quality_trend")
    pts = lambda d: [{"kimg": k, "x_floor": x} for k, x in d.items()]   # noqa: E731
    main = pts({100: 8.0, 200: 4.0, 300: 3.5, 310: 3.6})
    side, twig = pts({305: 3.3, 315: 3.2, 325: 3.1}), pts({320: 3.0, 330: 2.9})
    line = trend.carried_line(main, [side, twig])
    assert [p["kimg"] for p in line] == [100, 200, 300, 305, 315, 320, 330]   # 310 and side's 325 were not carried
    assert trend.carried_line(main, []) == main


def test_branch_panel_and_a_fit_along_the_carried_branch(tmp_path):
    run = _write_run(tmp_path, "run", {100: 8.0, 200: 4.0, 300: 3.5})
    side = _write_run(tmp_path, "side", {310: 3.6, 320: 3.8})
    out = tmp_path / "trend.png"
    base = [sys.executable, SCRIPT, run, "--out", str(out), "--zoom", "200"]
    args = base + ["--branch", f"{side}:side"]
    plain = subprocess.run(args, capture_output=True, text=True)
    assert plain.returncode == 0 and "3x near" in plain.stdout, plain.stderr        # the main run alone still falls
    carried = subprocess.run(args + ["--carried", side, "--branch-panel", "250"], capture_output=True, text=True)
    assert carried.returncode == 0, carried.stderr
    assert "the last 3 carried states" in carried.stdout and "not falling" in carried.stdout   # 3.5, 3.6, 3.8
    from PIL import Image
    assert Image.open(out).size[1] > 1000   # three panels
    for cmd, said in ((args + ["--carried", str(tmp_path / "nowhere")], "not a branch given"),
                      (base + ["--branch-panel", "250"], "no --branch")):
        bad = subprocess.run(cmd, capture_output=True, text=True)
        assert bad.returncode != 0 and said in bad.stderr and "Traceback" not in bad.stderr
