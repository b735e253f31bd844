"""Run folders: one set of rules for every verb (create, refuse, resume, overwrite), atomic
records, one place that names and parses snapshot files, one writer at a time."""

import json
import os

import pytest

from uncanny.errors import UncannyError
from uncanny.runs import (RunFolder, list_snapshots, list_training_snapshots, parse_snapshot, recorded_verb,
                         snapshot_images, snapshot_name, train_snapshot)


def test_snapshot_names_round_trip():
    assert snapshot_name("iter", 250) == "iter-000250.safetensors"
    assert snapshot_name("kimg", 60, "png") == "kimg-000060.png"
    for prefix, n in (("iter", 0), ("kimg", 123), ("img", 40), ("iter", 1234567)):
        assert parse_snapshot(snapshot_name(prefix, n)) == (prefix, n)
    for other in ("iter-12.safetensors", "foo-000001.safetensors", "iter-000001.json", "iter-000001.safetensors.tmp"):
        assert parse_snapshot(other) is None
    with pytest.raises(ValueError):
        snapshot_name("step", 1)


def test_training_snapshot_names_count_images_both_ways():
    # under one kimg the name counts images; from one kimg on, rounded kimg
    assert train_snapshot(0) == ("kimg", 0) and train_snapshot(640) == ("img", 640)
    assert train_snapshot(999) == ("img", 999) and train_snapshot(1000) == ("kimg", 1)
    assert train_snapshot(509_632) == ("kimg", 510) and train_snapshot(27_400) == ("kimg", 27)
    for nimg in (640, 1000, 27_000, 499_000):
        assert snapshot_images(snapshot_name(*train_snapshot(nimg), "png")) == nimg
    # an img name and a kimg name order by the images they stand for, not by their numbers
    assert snapshot_images("img-000640.safetensors") < snapshot_images("kimg-000001.safetensors")
    assert snapshot_images("iter-000250.safetensors") is None and snapshot_images("curves.png") is None


def test_training_snapshots_list_img_and_kimg_names_by_images_shown(tmp_path):
    for name in ("kimg-000002.png", "img-000640.png", "kimg-000001.png", "iter-000005.png", "kimg-000003.json"):
        (tmp_path / name).write_text("x")
    found = list_training_snapshots(str(tmp_path), "png")
    assert list(found) == [640, 1000, 2000]
    assert [os.path.basename(p) for p in found.values()] == ["img-000640.png", "kimg-000001.png", "kimg-000002.png"]
    assert list_training_snapshots(str(tmp_path / "missing")) == {}


def test_list_snapshots_orders_by_number_and_ignores_other_files(tmp_path):
    for name in ("iter-000500.safetensors", "iter-000020.safetensors", "iter-000020.json", "kimg-000001.safetensors",
                 "notes.txt"):
        (tmp_path / name).write_text("x")
    found = list_snapshots(str(tmp_path), "iter")
    assert list(found) == [20, 500] and found[20].endswith("iter-000020.safetensors")
    assert list(list_snapshots(str(tmp_path), "kimg")) == [1]
    assert list_snapshots(str(tmp_path / "missing"), "iter") == {}


def test_new_run_then_refuse_resume_and_overwrite(tmp_path):
    path = str(tmp_path / "run")
    run = RunFolder(path, "foil")
    assert run.open(subdirs=("snapshots",)) is None          # a new run: nothing recorded
    assert os.path.isdir(os.path.join(path, "snapshots"))
    run.write_json("run.json", {"config": {"iters": 5}})
    run.release()
    assert recorded_verb(path) == "foil" and json.load(open(os.path.join(path, "run.json")))["verb"] == "foil"

    with pytest.raises(UncannyError, match="already exists.*--resume.*--overwrite"):
        RunFolder(path, "foil").check()
    assert RunFolder(path, "foil").check(resume=True)["config"] == {"iters": 5}
    with pytest.raises(UncannyError, match="a foil run, not a train run"):
        RunFolder(path, "train").check(resume=True)
    with pytest.raises(UncannyError, match="a foil run, not a project run"):
        RunFolder(path, "project").open(overwrite=True)       # never deletes another verb's run
    assert os.path.isfile(os.path.join(path, "run.json"))

    (tmp_path / "run" / "old.png").write_text("x")
    again = RunFolder(path, "foil")
    again.open(overwrite=True)                                # same verb: replaced
    assert sorted(os.listdir(path)) == [".lock", "run.json"]     # the old files are gone; the new run is marked
    assert json.load(open(os.path.join(path, "run.json"))) == {"verb": "foil", "status": "started"}
    again.release()


def test_folders_on_the_way_are_created_but_not_inside_a_file(tmp_path):
    deep = RunFolder(str(tmp_path / "runs" / "2026" / "foil1"), "foil")
    deep.open()
    assert os.path.isfile(tmp_path / "runs" / "2026" / "foil1" / "run.json")
    deep.release()
    (tmp_path / "file").write_text("x")
    with pytest.raises(UncannyError, match="is not a writable folder"):
        RunFolder(str(tmp_path / "file" / "a" / "run"), "foil").open()


def test_overwrite_and_resume_refuse_folders_that_are_not_runs(tmp_path):
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_text("precious")
    for kw in ({"overwrite": True}, {"resume": True}):
        with pytest.raises(UncannyError, match="not a run folder"):
            RunFolder(str(mine), "train").open(**kw)
    assert (mine / "holiday.jpg").read_text() == "precious"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(UncannyError, match="not a folder"):
        RunFolder(str(a_file), "foil").open()
    with pytest.raises(UncannyError, match="empty path"):
        RunFolder("", "foil")
    with pytest.raises(UncannyError, match="give one of them"):
        RunFolder(str(tmp_path / "x"), "foil").check(resume=True, overwrite=True)


def test_runs_written_before_run_json_named_the_verb_are_recognised(tmp_path):
    for verb, marker in (("foil", "metrics.csv"), ("train", "log.csv"), ("project", "summary.json")):
        d = tmp_path / verb
        d.mkdir()
        (d / marker).write_text("x")
        (d / "run.json").write_text("{}")
        assert recorded_verb(str(d)) == verb
    assert recorded_verb(str(tmp_path)) is None


def test_a_second_writer_is_refused_while_a_run_is_open(tmp_path):
    path = str(tmp_path / "run")
    first = RunFolder(path, "foil")
    first.open()
    first.write_json("run.json", {})
    with pytest.raises(UncannyError, match="is writing this run"):
        RunFolder(path, "foil").open(resume=True)
    with pytest.raises(UncannyError, match="is writing this run"):
        RunFolder(path, "foil").open(overwrite=True)
    assert os.path.isfile(os.path.join(path, "run.json"))    # the open run was not deleted
    first.release()
    RunFolder(path, "foil").open(resume=True)


def test_records_are_written_whole(tmp_path):
    run = RunFolder(str(tmp_path), "train")
    run.write_csv("log.csv", ["step", "loss"], [{"step": 1, "loss": 0.5}, {"step": 2}])
    assert run.read_csv("log.csv") == [{"step": "1", "loss": "0.5"}, {"step": "2", "loss": ""}]
    assert not [f for f in os.listdir(tmp_path) if "tmp" in f]   # no temporary file left behind
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(UncannyError, match="expected a JSON object"):
        run.read_json("bad.json")
