"""Jobs the studio launches: each `uncanny foil` or `uncanny project` runs in its own process
(the server stays responsive), its output in RUNS_DIR/.studio/jobs/<id>.log; progress is read
from the progress bar it prints; cancelling sends SIGINT (the run stays resumable).

    jobs = Jobs(runs_dir)
    job = jobs.launch("foil", {"model": "faces64", "iters": 300}, name="foil-1")
    jobs.status(job.id)        # {"state": "running", "progress": 0.31, ...}
    jobs.cancel(job.id)
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from ..errors import UncannyError
from ..options import cli_fields, flag_of, validate

BAR = re.compile(r"(\d+)/(\d+) \[")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CANCEL_GRACE_S = 5.0   # after SIGINT, then after SIGTERM: how long a job has to stop before the next signal


def _config_class(kind: str):
    if kind == "foil":
        from ..foil import FoilConfig
        return FoilConfig
    if kind == "project":
        from ..project import ProjectConfig
        return ProjectConfig
    raise UncannyError(f"unknown job kind {kind!r} (foil or project)")


@dataclass
class Job:
    id: str
    kind: str
    name: str
    argv: list[str]
    log: str
    started: float = field(default_factory=time.time)
    proc: subprocess.Popen | None = None
    cancelled: bool = False


class Jobs:
    def __init__(self, runs_dir: str):
        self.root = os.path.realpath(runs_dir)
        self.dir = os.path.join(self.root, ".studio", "jobs")
        os.makedirs(self.dir, exist_ok=True)
        self.jobs: dict[str, Job] = {}

    def launch(self, kind: str, options: dict, name: str) -> Job:
        """Check the options with the verb's own config, then start the process."""
        if not NAME.match(name or ""):
            raise UncannyError(f"run name {name!r}: letters, digits, '.', '_' and '-' only (at most 64)")
        out = os.path.join(self.root, name)
        if os.path.exists(out):
            raise UncannyError(f"{name}: a run of that name exists already")
        cls = _config_class(kind)
        known = {f.name: f for f in cli_fields(cls)}
        unknown = [k for k in options if k not in known or k in ("out", "resume", "overwrite", "device")]
        if unknown:
            raise UncannyError(f"{kind}: option {unknown[0]!r} cannot be set from the studio")
        try:
            cfg = cls(**{**options, "out": out})
        except TypeError as e:
            raise UncannyError(f"{kind}: {e}") from None
        validate(cfg)
        if hasattr(cfg, "images") and not cfg.images:
            raise UncannyError("project: no photo")
        argv = [sys.executable, "-m", "uncanny", kind]
        for k, v in options.items():
            f = known[k]
            if f.metadata.get("positional"):
                argv += [str(x) for x in (v if isinstance(v, list) else [v])]
            elif isinstance(v, bool):
                argv += [flag_of(f)] if v else []
            elif isinstance(v, (list, tuple)):
                argv += [flag_of(f), ",".join(map(str, v))]
            elif v is not None:
                argv += [flag_of(f), str(v)]
        argv += ["--out", out]
        job = Job(secrets.token_hex(6), kind, name, argv, os.path.join(self.dir, f"{name}.log"))
        with open(job.log, "wb") as log:
            job.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
                                        start_new_session=True)
        self.jobs[job.id] = job
        return job

    def status(self, job_id: str) -> dict:
        job = self.jobs.get(job_id)
        if job is None:
            raise KeyError(job_id)
        code = job.proc.poll() if job.proc else None
        try:
            with open(job.log, "rb") as f:
                f.seek(max(0, os.path.getsize(job.log) - 4000))
                tail = f.read().decode("utf-8", "replace")
        except OSError:
            tail = ""
        bars = BAR.findall(tail)
        progress = (int(bars[-1][0]) / max(int(bars[-1][1]), 1)) if bars else 0.0
        lines = [x.strip() for x in re.split(r"[\r\n]", tail) if x.strip()]
        state = "running" if code is None else "cancelled" if job.cancelled else "done" if code == 0 else "failed"
        if state == "done":
            progress = 1.0
        return {"id": job.id, "kind": job.kind, "name": job.name, "state": state, "progress": round(progress, 4),
                "exit_code": code, "message": lines[-1][-300:] if lines else "", "seconds": round(time.time() - job.started, 1)}

    def cancel(self, job_id: str) -> dict:
        job = self.jobs.get(job_id)
        if job is None:
            raise KeyError(job_id)
        if job.proc and job.proc.poll() is None:
            job.cancelled = True
            job.proc.send_signal(signal.SIGINT)          # the verb stops cleanly; the run can be resumed
            # a SIGINT that lands while the job is still importing can be swallowed by a library's bare
            # `except:`; then SIGTERM, then SIGKILL (runs are written atomically: still resumable)
            threading.Thread(target=self._escalate, args=(job.proc,), daemon=True).start()
        return self.status(job_id)

    @staticmethod
    def _escalate(proc: subprocess.Popen) -> None:
        for stop in (proc.terminate, proc.kill):
            try:
                proc.wait(CANCEL_GRACE_S)
                return
            except subprocess.TimeoutExpired:
                stop()

    def all(self) -> list[dict]:
        return [self.status(j) for j in self.jobs]

