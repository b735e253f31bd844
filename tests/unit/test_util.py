"""Process-level helpers: the allocator setting the `uncanny` command applies at start."""

import os
import platform
import subprocess
import sys

import pytest

# A step-like pattern: large activations (over glibc's 32 MB mmap ceiling) allocated, used, and
# freed together, round after round. Prints the minor page faults of the last two rounds.
CHURN = r"""
import resource, sys, torch
from uncanny.util import retain_freed_memory
applied = retain_freed_memory() if sys.argv[1] == "retain" else False
def round_():
    acts = [torch.empty(n << 20).fill_(1.0) for n in (10, 10, 20, 12)]   # 40-80 MB each
    del acts
for _ in range(6):                 # glibc settles its free lists over the first rounds
    round_()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
round_(); round_()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode, env=None):
    out = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, env=env, check=True)
    applied, faults = out.stdout.split()
    return applied == "True", int(faults)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is glibc's")
def test_retain_freed_memory_stops_refaulting_large_tensors():
    """With glibc's defaults every round faults its 208 MB in afresh (about 53k pages per round,
    106k for the two counted); with retain_freed_memory the freed blocks are reused."""
    applied, system = _faults("system")
    assert not applied and system > 50_000
    applied, retained = _faults("retain")
    assert applied and retained < system / 4   # measured: 0 (sometimes 12k after fewer warm-up rounds)


def test_retain_freed_memory_can_be_switched_off():
    env = dict(os.environ, UNCANNY_MALLOC="system")
    applied, _ = _faults("retain", env)
    assert not applied
