"""Run the hostile-file corpus (tests/corpus.py) through every verb that reads files and write
docs/HOSTILE_FILES.md: corpus size, and per verb how many calls ended how.

    python scripts/fuzz_report.py
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import torch  # noqa: E402

from tests.corpus import make_corpus, verb_calls  # noqa: E402
from uncanny import adapters  # noqa: E402
from uncanny.checkpoint import save_checkpoint  # noqa: E402
from uncanny.cli import main  # noqa: E402
from uncanny.util import atomic_write_text  # noqa: E402


def run():
    tmp = tempfile.mkdtemp(prefix="uncanny-fuzz-")
    cfg = dict(size=16, style_dim=32, n_mlp=2, channel_multiplier=1, channel_max=16)
    torch.manual_seed(0)
    G, D = adapters.build("stylegan2", cfg)
    ckpt = os.path.join(tmp, "tiny.safetensors")
    save_checkpoint(ckpt, "stylegan2", cfg, {"g_ema": G, "d": D})
    dirs = os.path.join(tmp, "dirs")
    main(["edit", "find", "--model", ckpt, "--out", dirs])
    corpus = make_corpus(os.path.join(tmp, "corpus"), ckpt)
    table = collections.defaultdict(collections.Counter)
    accepted = collections.defaultdict(list)
    kinds = collections.Counter(k for _, k, _ in corpus)
    for name, kind, path in corpus:
        for argv in verb_calls(kind, path, os.path.join(tmp, "out", name), ckpt, dirs):
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(argv)
            lines = [x for x in err.getvalue().splitlines() if x.startswith("uncanny")]
            verb = " ".join(argv[:2]) if argv[0] == "edit" else argv[0]
            if "Traceback" in err.getvalue():
                outcome = "traceback"
            elif code == 2 and len(lines) == 1:
                outcome = "refused, one line (exit 2)"
            elif code == 0:
                outcome = "accepted (a valid odd file)"
                accepted[verb].append(name)
            else:
                outcome = f"exit {code}"
            table[verb][outcome] += 1
    half = sum(1 for root, _, files in os.walk(os.path.join(tmp, "out")) for f in files if f.startswith(".tmp-"))
    outcomes = sorted({o for c in table.values() for o in c})
    lines = ["# Hostile files", "",
             f"`python scripts/fuzz_report.py` (the corpus of tests/corpus.py, also run by tests/e2e/test_fuzz.py): "
             f"{len(corpus)} files ({', '.join(f'{n} {k}' for k, n in kinds.items())}): truncated and bit-flipped "
             "checkpoints, wrong types in every header field and config value, nested, memo-bomb and code-running "
             "pickles, damaged, odd-mode and decompression-bomb images, bad latents and directions, a folder where "
             "a file is expected.", "",
             "| verb | " + " | ".join(outcomes) + " |", "| --- |" + " ---: |" * len(outcomes)]
    for verb, c in sorted(table.items()):
        lines.append(f"| {verb} | " + " | ".join(str(c.get(o, 0)) for o in outcomes) + " |")
    lines += ["", "Accepted, and why that is right:", ""]
    for verb, names in sorted(accepted.items()):
        lines.append(f"- {verb}: {', '.join(sorted(names))}")
    lines += ["", "(`field-nets-*`: the `nets` list is informational, the tensors say which networks a file holds; "
              "a bit flip inside a weight's mantissa is a valid, slightly different checkpoint; `mode-*`: "
              "CMYK, 16-bit, palette, grey+alpha and 1-bit images are converted to RGB and scored whole.)", "",
              f"Tracebacks: {sum(c['traceback'] for c in table.values())}. "
              f"Half-written files left behind: {half}.", ""]
    atomic_write_text("docs/HOSTILE_FILES.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    run()
