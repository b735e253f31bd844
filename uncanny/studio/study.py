"""The uncanny-valley study: stimuli (faces from foil snapshots, and real photos), participants who
rate them, every response in SQLite before the next trial is shown, and the analysis.

Items (Ho & MacDorman 2010, 2017 indices, 7-point): humanness, eeriness, attractiveness; optional
timed real-or-fake choice. Affinity (Mori's vertical axis) is taken as attractiveness - eeriness
(both 1-7, so -6 ... 6). Human-likeness (the horizontal axis) is measured, not asked: dlib's face
rate of the fixed seeds at the snapshot's iteration (1 for photos), or the iteration itself.

    store = Store("runs/.studio/study.sqlite")
    sid, key = store.create("valley", stimuli)         # key: the participants' link /p/<key>
    pid = store.join(sid)                              # after consent
    stim = store.next_trial(pid)                       # None when done
    store.respond(pid, stim["id"], {"humanness": 5, "eeriness": 2, "attractiveness": 4}, choice="real", rt_ms=900)
"""

from __future__ import annotations

import csv
import io
import json
import random
import secrets
import sqlite3
import threading
import time

import numpy as np

ITEMS = ("humanness", "eeriness", "attractiveness")
SCHEMA = """
create table if not exists studies (id integer primary key, name text, key text unique, created real, config text);
create table if not exists stimuli (id integer primary key, study integer, kind text, path text, source text,
                                    iteration integer, likeness real, is_real integer);
create table if not exists participants (id integer primary key, study integer, token text unique, consented real,
                                         seed integer);
create table if not exists responses (id integer primary key, participant integer, stimulus integer,
                                      humanness integer, eeriness integer, attractiveness integer,
                                      choice text, rt_ms integer, created real,
                                      unique (participant, stimulus));
"""


class Store:
    """SQLite in WAL mode with synchronous=FULL: a response is on disk when `respond` returns."""

    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self.db.execute("pragma journal_mode=wal")
        self.db.execute("pragma synchronous=full")
        self.db.executescript(SCHEMA)

    def _q(self, sql, args=()):
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    # ---- experimenter

    def create(self, name: str, stimuli: list[dict], real_or_fake: bool = True) -> tuple[int, str]:
        """stimuli: {"kind": "snapshot"|"photo", "path", "source", "iteration", "likeness", "is_real"}."""
        key = secrets.token_urlsafe(12)
        with self.lock:
            self.db.execute("begin")
            cur = self.db.execute("insert into studies (name, key, created, config) values (?, ?, ?, ?)",
                                  (name, key, time.time(), json.dumps({"real_or_fake": real_or_fake})))
            sid = cur.lastrowid
            for s in stimuli:
                self.db.execute("insert into stimuli (study, kind, path, source, iteration, likeness, is_real) "
                                "values (?, ?, ?, ?, ?, ?, ?)", (sid, s["kind"], s["path"], s.get("source", ""),
                                                                 s.get("iteration"), s.get("likeness"),
                                                                 int(bool(s.get("is_real")))))
            self.db.execute("commit")
        return sid, key

    def study_by_key(self, key: str) -> dict | None:
        rows = self._q("select id, name, config from studies where key = ?", (key,))
        return {"id": rows[0][0], "name": rows[0][1], **json.loads(rows[0][2])} if rows else None

    def studies(self) -> list[dict]:
        return [{"id": i, "name": n, "key": k, "participants": p, "responses": r} for i, n, k, p, r in self._q(
            "select s.id, s.name, s.key, (select count(*) from participants where study = s.id), "
            "(select count(*) from responses r join participants p on r.participant = p.id where p.study = s.id) "
            "from studies s order by s.id")]

    def stimulus(self, study: int, stim: int) -> dict | None:
        rows = self._q("select id, path, kind from stimuli where study = ? and id = ?", (study, stim))
        return {"id": rows[0][0], "path": rows[0][1], "kind": rows[0][2]} if rows else None

    # ---- participants

    def join(self, study: int) -> tuple[int, str]:
        token = secrets.token_urlsafe(12)
        with self.lock:
            cur = self.db.execute("insert into participants (study, token, consented, seed) values (?, ?, ?, ?)",
                                  (study, token, time.time(), secrets.randbelow(2 ** 31)))
        return cur.lastrowid, token

    def participant(self, token: str) -> dict | None:
        rows = self._q("select id, study, seed from participants where token = ?", (token,))
        return {"id": rows[0][0], "study": rows[0][1], "seed": rows[0][2]} if rows else None

    def next_trial(self, pid: int) -> dict | None:
        """The participant's next stimulus in their own random order, or None when all are rated."""
        p = self._q("select study, seed from participants where id = ?", (pid,))
        if not p:
            return None
        study, seed = p[0]
        ids = [r[0] for r in self._q("select id from stimuli where study = ? order by id", (study,))]
        random.Random(seed).shuffle(ids)
        done = {r[0] for r in self._q("select stimulus from responses where participant = ?", (pid,))}
        left = [i for i in ids if i not in done]
        return {"id": left[0], "number": len(done) + 1, "of": len(ids)} if left else None

    def respond(self, pid: int, stim: int, ratings: dict, choice: str | None = None, rt_ms: int | None = None) -> None:
        for item in ITEMS:
            v = ratings.get(item)
            if not isinstance(v, int) or not 1 <= v <= 7:
                raise ValueError(f"{item}: a rating from 1 to 7")
        if choice not in (None, "real", "fake"):
            raise ValueError("choice: real or fake")
        with self.lock:
            self.db.execute("insert or replace into responses (participant, stimulus, humanness, eeriness, "
                            "attractiveness, choice, rt_ms, created) values (?, ?, ?, ?, ?, ?, ?, ?)",
                            (pid, stim, ratings["humanness"], ratings["eeriness"], ratings["attractiveness"],
                             choice, rt_ms, time.time()))

    def delete_participant(self, pid: int) -> int:
        """Remove a participant and every response they gave; returns how many responses went."""
        with self.lock:
            self.db.execute("begin")
            n = self.db.execute("delete from responses where participant = ?", (pid,)).rowcount
            self.db.execute("delete from participants where id = ?", (pid,))
            self.db.execute("commit")
        return n

    # ---- results

    def export_csv(self, study: int) -> str:
        rows = self._q("select p.id, s.id, s.kind, s.source, s.iteration, s.likeness, s.is_real, r.humanness, "
                       "r.eeriness, r.attractiveness, r.choice, r.rt_ms, r.created from responses r "
                       "join participants p on r.participant = p.id join stimuli s on r.stimulus = s.id "
                       "where p.study = ? order by r.id", (study,))
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["participant", "stimulus", "kind", "source", "iteration", "likeness", "is_real", *ITEMS,
                    "choice", "rt_ms", "time"])
        w.writerows(rows)
        return buf.getvalue()

    def analysis(self, study: int) -> dict:
        """Per stimulus: likeness, mean affinity with a 95% CI; a polynomial (cubic) fit of affinity on likeness;
        the real-or-fake accuracy."""
        rows = self._q("select s.id, s.likeness, s.is_real, r.eeriness, r.attractiveness, r.humanness, r.choice "
                       "from responses r join stimuli s on r.stimulus = s.id join participants p on "
                       "r.participant = p.id where p.study = ?", (study,))
        per = {}
        correct = answered = 0
        for sid, like, real, eer, att, hum, choice in rows:
            per.setdefault(sid, {"likeness": like, "is_real": real, "affinity": [], "humanness": []})
            per[sid]["affinity"].append(att - eer)
            per[sid]["humanness"].append(hum)
            if choice is not None:
                answered += 1
                correct += (choice == "real") == bool(real)
        stim = []
        for sid, d in sorted(per.items()):
            a = np.array(d["affinity"], float)
            half = 1.96 * a.std(ddof=1) / np.sqrt(len(a)) if len(a) > 1 else float("nan")
            stim.append({"stimulus": sid, "likeness": d["likeness"], "is_real": d["is_real"], "n": len(a),
                         "affinity": float(a.mean()), "ci95": float(half), "humanness": float(np.mean(d["humanness"]))})
        fit = None
        xs = np.array([s["likeness"] for s in stim if s["likeness"] is not None], float)
        ys = np.array([s["affinity"] for s in stim if s["likeness"] is not None], float)
        distinct = len(set(xs.round(6)))
        if distinct >= 3:                     # cubic where the stimuli allow it, else quadratic
            fit = [float(c) for c in np.polyfit(xs, ys, min(3, distinct - 1))]
        return {"stimuli": stim, "fit": fit, "responses": len(rows),
                "real_or_fake_accuracy": correct / answered if answered else None, "choices": answered}

    def plot(self, study: int, path: str) -> dict:
        from ..plots import _save, plt
        a = self.analysis(study)
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for s in a["stimuli"]:
            ax.errorbar(s["likeness"], s["affinity"], yerr=s["ci95"] if np.isfinite(s["ci95"]) else None, fmt="o",
                        color="C2" if s["is_real"] else "C3", capsize=3)
        if a["fit"]:
            x = np.linspace(0, 1, 100)
            ax.plot(x, np.polyval(a["fit"], x), color="black", lw=1,
                    label=f"polynomial fit, degree {len(a['fit']) - 1} (Mori's valley?)")
            ax.legend(fontsize=8)
        ax.set_xlabel("human-likeness (dlib face rate of the snapshot; photos = 1)")
        ax.set_ylabel("affinity (attractiveness - eeriness)")
        acc = a["real_or_fake_accuracy"]
        ax.set_title(f"{a['responses']} responses; real-or-fake accuracy "
                     f"{'-' if acc is None else f'{acc:.0%}'} (Nightingale & Farid 2022: 48% for StyleGAN2)", fontsize=9)
        ax.grid(alpha=0.3)
        _save(fig, path)
        return a
