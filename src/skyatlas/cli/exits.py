"""Exit codes of the `skyatlas` command and the one-line error path every command uses.

| code | meaning |
|---|---|
| 0 | success |
| 1 | the server refused the request (its error code and message are printed) |
| 2 | bad command line or settings: unknown option, verb or resource, bad `-p`, no endpoint |
| 3 | the server could not be reached or did not answer in time |
| 4 | authentication or authorisation failed (401 / 403): check the token and its role |
"""

from __future__ import annotations

import sys
from typing import NoReturn

OK = 0
API_ERROR = 1
USAGE = 2
UNREACHABLE = 3
AUTH = 4


def fail(message: str, code: int) -> NoReturn:
    """Print one line to stderr and exit: no traceback ever reaches the user."""
    sys.stderr.write(f"skyatlas: {message}\n")
    sys.stderr.flush()
    sys.exit(code)


def fail_client_error(exc: Exception) -> NoReturn:
    """Map a `skyatlas.client` exception to its line and exit code."""
    from skyatlas.client import APIError, ConnectionFailed

    if isinstance(exc, ConnectionFailed):
        fail(str(exc), UNREACHABLE)
    if isinstance(exc, APIError):
        fail(f"{exc.code} ({exc.status}): {exc.message}", AUTH if exc.is_auth else API_ERROR)
    fail(str(exc), API_ERROR)
