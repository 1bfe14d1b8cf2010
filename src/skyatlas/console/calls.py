"""How a console page asks the services for something: exactly as an API client would.

A page names a SpaceONE verb (or a Resource Explorer operation) and a request body; the call
takes the same road as `POST /{service}/{resource}/{verb}` — role and permission gate, request
validation, the handler in one transaction, after-commit callbacks — with the signed-in user's
caller in place of an app's. So the console holds no business rule of its own: whatever the API
refuses, the console refuses with the same message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from skyatlas.api.registry import Registry
from skyatlas.api.transport import run_verb_as
from skyatlas.errors import NotFound
from skyatlas.explorer.routes import OPERATIONS, run_operation_as
from skyatlas.identity.caller import Caller
from skyatlas.runtime import Runtime

Identify = Callable[[Connection], Caller]
_OPERATIONS = {(op.method, op.path): op for op in OPERATIONS}


def call_verb(
    runtime: Runtime,
    registry: Registry,
    identify: Identify,
    service: str,
    resource: str,
    verb: str,
    body: dict[str, Any] | None = None,
) -> Any:
    found = registry.get(service, resource, verb)
    if found is None:
        raise NotFound(f"no such verb: {service}.{resource}.{verb}")
    return run_verb_as(runtime, found, identify, body or {})


def call_operation(
    runtime: Runtime,
    identify: Identify,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    path_params: dict[str, str] | None = None,
) -> Any:
    """A Resource Explorer operation by its route template, e.g. `POST /api/v1/tags`."""
    op = _OPERATIONS.get((method, path))
    if op is None:
        raise NotFound(f"no such operation: {method} {path}")
    result = run_operation_as(runtime, op, identify, body or {}, path_params or {})
    if op.write and runtime.workers is not None:
        runtime.workers.wake()
    return result
