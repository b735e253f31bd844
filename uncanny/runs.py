"""Run folders: the one place that creates, refuses, resumes and overwrites them, writes their
records atomically, and names and parses their snapshot files. Every verb that writes a run
(train, foil, project, ...) goes through `RunFolder`.

    run = RunFolder("runs/foil1", "foil")
    recorded = run.open(resume=False, overwrite=False)   # the recorded run.json when resuming
    run.write_json("run.json", {...})                    # atomic; `verb` is added
    run.write_csv("metrics.csv", COLUMNS, rows)          # atomic, whole file
    run.snapshot_path("iter", 250)                       # RUN/snapshots/iter-000250.safetensors
    run.snapshots("iter")                                # {0: path, 250: path, ...}

The rules, the same for every verb:
  * a new run needs an empty or missing folder; a folder with anything in it is refused unless
    --resume or --overwrite is given;
  * --resume continues only a run of the same verb (its run.json says so); a missing or empty
    folder starts a new run;
  * --overwrite replaces the folder only if it is a run of the same verb, never the current
    folder, the home folder, the file system's root, or a folder holding one of the run's inputs;
    and only when the verb calls `open`, which it does after checking its inputs (a typo never
    costs a run). The old run is moved aside (a hidden sibling) and deleted only when the new run
    is released at its successful end; if the new run fails, the old one is put back;
  * while a run is open, an OS lock on RUN/.lock (released by the OS even on kill -9) stops a
    second process from writing into it, and the refusal names the process that holds it.
"""

from __future__ import annotations

import atexit
import csv
import fcntl
import io
import json
import os
import re
import shutil

from .errors import UncannyError
from .util import atomic_write_text

RUN_FILE = "run.json"
LOCK_FILE = ".lock"
SNAPSHOT_DIR = "snapshots"
SAMPLES_DIR = "samples"   # train: the fixed seeds' grid at every snapshot, named like the snapshot (.png)
# iter-000250 (foil), kimg-000060 and img-000040 (train: under 1 kimg, in images)
SNAPSHOT_PREFIXES = ("iter", "kimg", "img")
_SNAPSHOT = re.compile(r"^(iter|kimg|img)-(\d{6,})\.(safetensors|png)$")

# Runs written before run.json named its verb, recognised by the files only that verb writes.
_LEGACY_MARKERS = {"foil": ("metrics.csv",), "train": ("log.csv", "resume.safetensors"),
                   "project": ("summary.json",)}


def snapshot_name(prefix: str, n: int, ext: str = "safetensors") -> str:
    """'iter', 250 -> 'iter-000250.safetensors'."""
    if prefix not in SNAPSHOT_PREFIXES:
        raise ValueError(f"snapshot prefix must be one of {SNAPSHOT_PREFIXES}, got {prefix!r}")
    return f"{prefix}-{int(n):06d}.{ext}"


def parse_snapshot(filename: str) -> tuple[str, int] | None:
    """'iter-000250.safetensors' -> ('iter', 250); None for anything else."""
    m = _SNAPSHOT.match(os.path.basename(filename))
    return (m.group(1), int(m.group(2))) if m else None


def train_snapshot(nimg: int) -> tuple[str, int]:
    """The trainer's snapshot name for `nimg` images shown: ('kimg', rounded kimg), or under one
    kimg ('img', images). 27_000 -> ('kimg', 27); 640 -> ('img', 640)."""
    return ("kimg", round(nimg / 1000)) if nimg >= 1000 or nimg == 0 else ("img", int(nimg))


def snapshot_images(filename: str) -> int | None:
    """Images shown by a training snapshot or grid, from its name: 'kimg-000027.png' -> 27_000,
    'img-000640.png' -> 640; None for a name that is not a training snapshot's."""
    p = parse_snapshot(filename)
    return None if p is None or p[0] == "iter" else p[1] * (1000 if p[0] == "kimg" else 1)


def list_snapshots(folder: str, prefix: str, ext: str = "safetensors") -> dict[int, str]:
    """{n: path} of the `prefix` snapshot files in `folder`, in order."""
    if not os.path.isdir(folder):
        return {}
    found = {}
    for f in os.listdir(folder):
        p = parse_snapshot(f)
        if p is not None and p[0] == prefix and f.endswith("." + ext):
            found[p[1]] = os.path.join(folder, f)
    return dict(sorted(found.items()))


def list_training_snapshots(folder: str, ext: str = "safetensors") -> dict[int, str]:
    """{images shown: path} of the trainer's snapshot files (kimg- and img- names) in `folder`, in order."""
    paths = [*list_snapshots(folder, "img", ext).values(), *list_snapshots(folder, "kimg", ext).values()]
    return dict(sorted((snapshot_images(p), p) for p in paths))


def recorded_verb(path: str) -> str | None:
    """The verb that wrote the run in `path` (from its run.json, or for older runs the files only
    that verb writes), or None if the folder is not a run."""
    run_json = os.path.join(path, RUN_FILE)
    if os.path.isfile(run_json):
        try:
            with open(run_json) as f:
                rec = json.load(f)
        except (OSError, ValueError):
            rec = None
        if isinstance(rec, dict) and isinstance(rec.get("verb"), str):
            return rec["verb"]
    for verb, markers in _LEGACY_MARKERS.items():
        if any(os.path.isfile(os.path.join(path, m)) for m in markers):
            return verb
    return None


def protected(path: str, sources: tuple[str, ...]) -> str | None:
    """Why `path` must never be replaced, or None."""
    real = os.path.realpath(path)
    if real in (os.path.realpath(os.getcwd()), os.path.realpath(os.path.expanduser("~")), os.path.realpath(os.sep)):
        return "it is the current folder, the home folder or the root"
    for src in sources:
        if src and os.path.exists(src):
            s = os.path.realpath(src)
            if s == real or s.startswith(real + os.sep):
                return f"it holds this run's input {src}"
    return None


_OPEN: list["RunFolder"] = []      # runs opened by this process and not yet released


def abort_open() -> None:
    """Put back every run this process was replacing and has not finished (on an error)."""
    for run in list(_OPEN):
        run._restore()
        if run._lock is not None:
            run._lock.close()
            run._lock = None
        _OPEN.remove(run)


class RunFolder:
    def __init__(self, path: str, verb: str, sources: tuple[str, ...] = ()):
        """`sources`: the run's input files and folders (never deleted by --overwrite)."""
        if not path or not path.strip():
            raise UncannyError("--out: an empty path is not a run folder")
        self.path, self.verb, self.sources = path, verb, tuple(s for s in sources if isinstance(s, str))
        self._lock = None
        self._aside = None      # the run being replaced, kept until this one is released

    def file(self, *parts: str) -> str:
        return os.path.join(self.path, *parts)

    # ---- create / refuse / resume / overwrite

    def has_content(self) -> bool:
        return os.path.isdir(self.path) and any(f != LOCK_FILE for f in os.listdir(self.path))

    def check(self, resume: bool = False, overwrite: bool = False) -> dict | None:
        """Apply the rules without changing anything; returns the recorded run.json when
        resuming an existing run (None when there is nothing to resume)."""
        if resume and overwrite:
            raise UncannyError("--resume and --overwrite: give one of them")
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise UncannyError(f"{self.path}: exists and is not a folder")
        if not self.has_content():
            return None
        found = recorded_verb(self.path)
        if not (resume or overwrite):
            raise UncannyError(f"{self.path}: run folder already exists (use --resume to continue it, "
                               f"--overwrite to start again)")
        what = "resume" if resume else "overwrite"
        why = protected(self.path, self.sources) if overwrite else None
        if why:
            raise UncannyError(f"{self.path}: --overwrite refuses: {why}")
        if found != self.verb:
            kind = f"a {found} run" if found else "not a run folder"
            raise UncannyError(f"{self.path}: --{what} refuses: the folder is {kind}, not a {self.verb} run")
        if resume:
            rec = self.read_json(RUN_FILE) if os.path.isfile(self.file(RUN_FILE)) else None
            if rec is None:
                raise UncannyError(f"{self.path}: {RUN_FILE} missing, cannot resume this run")
            return rec
        return None

    def open(self, resume: bool = False, overwrite: bool = False, subdirs: tuple[str, ...] = ()) -> dict | None:
        """Check (see `check`), then delete the old run on --overwrite, create the folder and
        its `subdirs`, and take the run's lock. Call it after the verb's inputs are checked."""
        recorded = self.check(resume, overwrite)
        parent = os.path.dirname(os.path.abspath(self.path))
        existing = parent
        while not os.path.exists(existing):            # folders on the way are created, as mkdir -p does
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
            raise UncannyError(f"{self.path}: cannot create it: {existing} is not a writable folder")
        if overwrite and self.has_content():
            self._take_lock()     # never replace a run another process is writing
            self._lock.close()
            self._lock = None
            self._aside = os.path.join(parent, f".{os.path.basename(os.path.abspath(self.path))}.replaced-{os.getpid()}")
            os.replace(self.path, self._aside)
            atexit.register(self._restore)
            _OPEN.append(self)
        for sub in ("",) + tuple(subdirs):
            d = self.file(sub) if sub else self.path
            try:
                os.makedirs(d, exist_ok=True)
            except OSError as e:
                raise UncannyError(f"{d}: cannot create run folder ({e.strerror})") from None
        self._take_lock()
        if not os.path.isfile(self.file(RUN_FILE)):   # a run that dies early is still recognisably a run
            self.write_json(RUN_FILE, {"status": "started"})
        return recorded

    def _take_lock(self):
        if self._lock is not None:
            return
        try:
            f = open(self.file(LOCK_FILE), "a+")
        except OSError as e:
            raise UncannyError(f"{self.path}: cannot write in the run folder ({e.strerror})") from None
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise UncannyError(f"{self.path}: {holder} is writing this run (wait for it to finish, "
                               f"or stop it)") from None
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()} (uncanny {self.verb})")
        f.flush()
        self._lock = f

    def release(self):
        """The run ended well: let go of its lock, and delete the run it replaced."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        if self._aside is not None:
            shutil.rmtree(self._aside, ignore_errors=True)
            self._aside = None
        if self in _OPEN:
            _OPEN.remove(self)

    def _restore(self):
        """At exit without `release` (the new run failed): put the replaced run back."""
        if self._aside is None or not os.path.isdir(self._aside):
            return
        shutil.rmtree(self.path, ignore_errors=True)
        os.replace(self._aside, self.path)
        self._aside = None

    # ---- records

    def write_json(self, name: str, obj: dict) -> str:
        if name == RUN_FILE:
            obj = {"verb": self.verb, **obj}
        path = self.file(name)
        atomic_write_text(path, json.dumps(obj, indent=1, default=str) + "\n")
        return path

    def read_json(self, name: str) -> dict:
        path = self.file(name)
        try:
            with open(path) as f:
                obj = json.load(f)
        except (OSError, ValueError) as e:
            raise UncannyError(f"{path}: unreadable ({e})") from None
        if not isinstance(obj, dict):
            raise UncannyError(f"{path}: expected a JSON object, found {type(obj).__name__}")
        return obj

    def write_csv(self, name: str, columns: list[str], rows: list[dict]) -> str:
        """The whole table, atomically (values missing from a row are left empty)."""
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns, restval="", extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        path = self.file(name)
        atomic_write_text(path, buf.getvalue())
        return path

    def read_csv(self, name: str) -> list[dict]:
        path = self.file(name)
        if not os.path.isfile(path):
            return []
        with open(path, newline="") as f:
            return list(csv.DictReader(f))

    # ---- snapshots

    def snapshot_path(self, prefix: str, n: int) -> str:
        return self.file(SNAPSHOT_DIR, snapshot_name(prefix, n))

    def snapshots(self, prefix: str) -> dict[int, str]:
        return list_snapshots(self.file(SNAPSHOT_DIR), prefix)

    def training_snapshots(self) -> dict[int, str]:
        return list_training_snapshots(self.file(SNAPSHOT_DIR))
