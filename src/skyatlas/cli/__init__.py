"""The `skyatlas` command."""

import sys

# httpx imports its own command-line tool (and Rich and click with it) on import: ~50 ms of
# every `skyatlas` start. Marking that module absent makes httpx skip it, a case it handles.
sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]
