"""The studio: a local web app over the same Python API as the CLI (nothing else imports it).

    uncanny studio runs --port 8000          # prints http://127.0.0.1:8000/?token=...

It browses run folders (foil runs: a slider over the snapshots with their grid, stage and the
suggested peak, the curves and the video; projections, edits, detections, animations), launches
foil and projection jobs with live progress, and runs the uncanny-valley rating study.

Safe by default: it binds 127.0.0.1, every page and file needs the token printed at start (kept
in a cookie after the first visit), and only files inside RUNS_DIR are served.
"""

import contextlib
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

from ..options import option
from .app import create_app, serve  # noqa: F401


@dataclass
class StudioConfig:
    runs_dir: str = option("runs", "the folder of run folders to browse", positional=True, nargs="?")
    host: str = option("127.0.0.1", "address to listen on (127.0.0.1: this machine only)")
    port: int = option(8000, "port", check=lambda v: None if isinstance(v, int) and 1 <= v <= 65535 else "must be 1 to 65535")
    token: str | None = option(None, "the access token (default: a new random one, printed)")


@contextlib.contextmanager
def running(runs_dir: str, token: str = "tk", timeout: float = 30.0):
    """A studio in a child process on a free local port, for benchmarks, screenshots and browser
    tests: yields its base URL (the token is `token`) and stops it on exit."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "uncanny", "studio", runs_dir, "--port", str(port), "--token", token],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the studio did not start on port {port}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)
