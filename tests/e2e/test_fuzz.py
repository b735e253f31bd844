"""The hostile corpus (tests/corpus.py) through every verb that reads files: exit 2 with one
line and no traceback (or, for odd but valid images, a result), nothing half-written left."""

import os

import pytest

from uncanny.cli import main

from ..corpus import make_corpus, verb_calls


@pytest.fixture(scope="module")
def corpus(tiny_ckpt, tmp_path_factory):
    return make_corpus(str(tmp_path_factory.mktemp("corpus")), tiny_ckpt)


def test_every_hostile_file_gets_one_line(corpus, tiny_ckpt, tmp_path, capsys):
    dirs = str(tmp_path / "dirs")
    assert main(["edit", "find", "--model", tiny_ckpt, "--out", dirs]) == 0
    results = []
    for name, kind, path in corpus:
        for argv in verb_calls(kind, path, str(tmp_path / "out" / name), tiny_ckpt, dirs):
            capsys.readouterr()
            code = main(argv)
            err = capsys.readouterr().err
            errors = [line for line in err.splitlines() if line.startswith("uncanny")]
            assert "Traceback" not in err, (name, argv, err[-500:])
            assert code == 0 or (code == 2 and len(errors) == 1), (name, argv, code, err[-500:])
            results.append((name, argv[0], code))
    for root, _, files in os.walk(tmp_path / "out"):
        assert not [f for f in files if f.startswith(".tmp-")], root       # nothing half-written
    assert len(corpus) >= 60 and len(results) >= 150
    accepted = {verb: {n for n, v, c in results if v == verb and c == 0} for verb in ("sample", "convert", "detect")}
    assert accepted["convert"] == accepted["sample"]              # convert writes nothing sample would refuse
    assert all(n.startswith("mode-") for n in accepted["detect"])  # odd but valid images are read
    assert len([n for n in accepted["sample"]]) <= 6, accepted["sample"]   # (fields nothing reads, a benign flip)
