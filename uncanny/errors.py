"""One exception type for everything a user can get wrong.

The CLI prints `uncanny: error: <message>` on one line and exits with code 2; the Python API
raises it so callers can catch it. Messages name the file or option and what is wrong.
"""


class UncannyError(Exception):
    """A user-facing error: bad input file, bad option, missing requirement."""
