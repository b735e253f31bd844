"""Load test of the study: N simulated participants rating concurrently against the real server
on 127.0.0.1 (each: consent, then every trial), responses counted in the database afterwards.

    python benchmarks/bench_study.py --participants 50 --photos 100      # 5,000 responses
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time

import httpx
from uncanny.studio import running
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from report import append_section  # noqa: E402  (benchmarks/report.py)


def participant(url, key, latencies, errors):
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as c:
        r = c.post(f"/p/{key}/consent")
        c.cookies.update(r.cookies)
        r = c.get(f"/p/{key}/trial")
        while "Thank you" not in r.text:
            m = re.search(r"name='stimulus' value='(\d+)'", r.text)
            if m is None:
                errors.append(r.status_code)
                return
            t = time.perf_counter()
            resp = c.post(f"/p/{key}/respond", data={"stimulus": m.group(1), "shown": "0", "humanness": "4",
                                                     "eeriness": "3", "attractiveness": "5", "choice": "real"})
            latencies.append(time.perf_counter() - t)
            if resp.status_code != 303:
                errors.append(resp.status_code)
            r = c.get(f"/p/{key}/trial")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--participants", type=int, default=50)
    ap.add_argument("--photos", type=int, default=100)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    root = tempfile.mkdtemp(prefix="uncanny-study-")
    with running(root) as url:
        with httpx.Client(base_url=url, cookies={"uncanny_studio": "tk"}, timeout=300, follow_redirects=True) as admin:
            page = admin.post("/api/studies", data={"name": "load", "photos": str(a.photos), "real_or_fake": "on"}).text
        key = re.search(r"/p/([A-Za-z0-9_-]+)", page).group(1)
        latencies, errors = [], []
        threads = [threading.Thread(target=participant, args=(url, key, latencies, errors))
                   for _ in range(a.participants)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        with httpx.Client(base_url=url, cookies={"uncanny_studio": "tk"}) as admin:
            stored = len(admin.get("/api/studies/1/export.csv").text.strip().splitlines()) - 1
    sent = len(latencies)
    p50, p95 = (np.percentile(latencies, q) * 1000 for q in (50, 95))
    print(f"{a.participants} participants, {sent} responses sent, {stored} stored, {sent - stored} lost, "
          f"{len(errors)} errors; latency p50 {p50:.0f} ms, p95 {p95:.0f} ms; {sent / wall:.0f} responses/s")
    if not a.no_write:
        append_section("study load test (uncanny studio on 127.0.0.1)",
                       ["participants", "responses sent", "stored", "lost", "errors", "p50 ms", "p95 ms", "responses/s"],
                       [[a.participants, sent, stored, sent - stored, len(errors), f"{p50:.0f}", f"{p95:.0f}",
                         f"{sent / wall:.0f}"]],
                       "Each response is committed to SQLite (WAL, synchronous=FULL) before the next trial is served.")


if __name__ == "__main__":
    main()
