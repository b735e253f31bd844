"""The embedded models and the default (faces64v2): they load with their discriminators, the
default foils (its projections of real photos: tests/e2e/test_project.py)."""

import csv
import json
import os

from uncanny.adapters import load_gan
from uncanny.cli import main
from uncanny.registry import DEFAULT, embedded


def test_embedded_models_are_listed_with_discriminators(capsys):
    models = embedded()
    assert {DEFAULT, "faces64", "faces64-kimg009", "faces64-kimg024"} <= set(models)   # older models stay
    assert sum(os.path.getsize(p) for p in models.values()) <= 70e6
    assert main(["models"]) == 0
    assert DEFAULT in capsys.readouterr().out
    for name in models:
        gan = load_gan(name, need_d=True)
        assert gan.config["size"] == 64 and gan.D is not None
        assert "non-commercial" in json.dumps(gan.header)      # the CelebA licence travels with the weights


def test_short_foil_on_the_default_makes_d_call_it_fake(tmp_path):
    out = str(tmp_path / "foil")
    assert main(["foil", "--out", out, "--iters", "12", "--snapshots", "0,6,12", "--faces-every", "6",
                 "--seeds", "0-7", "--loss", "hinge"]) == 0
    with open(os.path.join(out, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["d_fixed"]) < float(rows[0]["d_fixed"])


# Projecting real photos with the default: tests/e2e/test_project.py
# (test_default_model_brings_both_faces_closer_in_identity).
