"""The studio: a local web app over the same Python API as the CLI (nothing else imports it).

    uncanny studio runs --port 8000          # prints http://127.0.0.1:8000/?token=...

This first part browses run folders (foil runs: a slider over the snapshots with their grid,
stage and the suggested peak, the curves and the video; projections: the search video and the
identity curve). Launching jobs and the uncanny-valley study are still to come (issue #15).

Safe by default: it binds 127.0.0.1, every page and file needs the token printed at start (kept
in a cookie after the first visit), and only files inside RUNS_DIR are served.
"""

from dataclasses import dataclass

from ..options import option
from .app import create_app, serve  # noqa: F401


@dataclass
class StudioConfig:
    runs_dir: str = option("runs", "the folder of run folders to browse", positional=True, nargs="?")
    host: str = option("127.0.0.1", "address to listen on (127.0.0.1: this machine only)")
    port: int = option(8000, "port", check=lambda v: None if isinstance(v, int) and 1 <= v <= 65535 else "must be 1 to 65535")
    token: str | None = option(None, "the access token (default: a new random one, printed)")
