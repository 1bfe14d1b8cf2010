"""`only`: keep the listed dotted paths of a record, preserving nesting.

`["name", "data.instances"]` turns a record into `{"name": ..., "data": {"instances": [...]}}`.
A path through a list of objects keeps the list and projects each object, as MongoDB does:
`data.security_groups.id` gives `{"data": {"security_groups": [{"id": ...}, {"id": ...}]}}`
(objects lacking the key stay as `{}` so that several paths line up element by element).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MISSING = object()


def _prune(value: Any, parts: list[str]) -> Any:
    if not parts:
        return value
    if isinstance(value, dict):
        if parts[0] not in value:
            return _MISSING
        inner = _prune(value[parts[0]], parts[1:])
        return _MISSING if inner is _MISSING else {parts[0]: inner}
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, dict):
                inner = _prune(item, parts)
                out.append({} if inner is _MISSING else inner)
        return out
    return _MISSING


def _merge(target: Any, addition: Any) -> Any:
    if isinstance(target, dict) and isinstance(addition, dict):
        for key, value in addition.items():
            target[key] = _merge(target[key], value) if key in target else value
        return target
    if isinstance(target, list) and isinstance(addition, list) and len(target) == len(addition):
        return [_merge(a, b) for a, b in zip(target, addition, strict=True)]
    return addition


def project(
    record: dict[str, Any],
    paths: tuple[str, ...],
    split: Callable[[str], list[str]] = lambda path: path.split("."),
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in paths:
        pruned = _prune(record, split(path))
        if pruned is not _MISSING:
            out = _merge(out, pruned)
    return out
