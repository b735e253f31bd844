"""Shared by the benchmark scripts: the --malloc option, and appending one dated section (a
Markdown table and a note) to docs/BENCHMARKS.md, creating the file with its header when it
does not exist yet."""

from __future__ import annotations

import datetime
import os

import torch

PATH = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "docs", "BENCHMARKS.md"))
HEADER = ("# Benchmarks\n\nWritten by the scripts in `benchmarks/` (run by hand; each run appends a "
          "section). Newest last.\n")


def append_section(title: str, columns: list[str], rows: list[list[str]], note: str = "") -> str:
    """Append '## DATE - TITLE, N threads, CPU <vector ISA>, torch V', the table and the note; returns
    the path. The ISA (torch's CPU capability: AVX2, AVX512) matters: the same 2 cores differ by up
    to 2x between machines with and without AVX512."""
    text = (f"\n## {datetime.date.today()} - {title}, {torch.get_num_threads()} threads, "
            f"CPU {torch.backends.cpu.get_cpu_capability()}, torch {torch.__version__}\n\n"
            f"| {' | '.join(columns)} |\n| {' | '.join('---' for _ in columns)} |\n"
            + "".join(f"| {' | '.join(str(c) for c in r)} |\n" for r in rows)
            + (f"\n{note}\n" if note else ""))
    new = not os.path.exists(PATH)
    with open(PATH, "a") as f:
        f.write((HEADER if new else "") + text)
    return PATH


def add_malloc_option(ap) -> None:
    """--malloc retain|system: how glibc's allocator is set for the whole benchmark process."""
    ap.add_argument("--malloc", choices=["retain", "system"], default="retain",
                    help="retain (as the uncanny command runs): glibc keeps freed memory for reuse "
                         "(uncanny.util.retain_freed_memory); system: the allocator's defaults")


def apply_malloc(choice: str) -> bool:
    """Apply the --malloc choice; True if freed memory is now retained."""
    from uncanny.util import retain_freed_memory
    return choice == "retain" and retain_freed_memory()
