"""scripts/d_overfit.py: ADA's r_t heuristic computed on rows, and the script on a tiny checkpoint
and 8 real photos; a file without a discriminator is refused in one line."""

import os
import subprocess
import sys

import numpy as np
import pytest

from uncanny import adapters
from uncanny.checkpoint import save_checkpoint

from ..conftest import SCRIPTS, TINY_SG2, load_script

SCRIPT = os.path.join(SCRIPTS, "d_overfit.py")


def test_overfit_stats_on_rows():
    s = load_script("d_overfit").overfit_stats(np.array([2.0, 0.5, -1.0, 0.5]), np.array([-1.0, -2.0]))
    assert s["r_t"] == pytest.approx(0.5)           # three positive, one negative
    assert s["d_real"] == pytest.approx(0.5) and s["d_fake"] == pytest.approx(-1.5)
    assert s["margin"] == pytest.approx(2.0)


def test_script_reports_r_t_and_refuses_a_file_without_d(tiny_dataset, tiny_ckpt, tmp_path):
    r = subprocess.run([sys.executable, SCRIPT, tiny_dataset, tiny_ckpt, "--n", "16"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    row = r.stdout.strip().splitlines()[-1].split()
    assert row[0] == tiny_ckpt
    r_t, d_real, d_fake, margin = map(float, row[1:])
    assert -1 <= r_t <= 1 and margin == pytest.approx(d_real - d_fake, abs=2e-3)

    G, _ = adapters.build("stylegan2", TINY_SG2)
    g_only = str(tmp_path / "g_only.safetensors")
    save_checkpoint(g_only, "stylegan2", TINY_SG2, {"g_ema": G}, {})
    bad = subprocess.run([sys.executable, SCRIPT, tiny_dataset, g_only], capture_output=True, text=True)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines()[-1].startswith(g_only)
