"""`only`: keep the listed dotted paths of a record, preserving nesting.

`["name", "data.instances"]` turns a record into `{"name": ..., "data": {"instances": [...]}}`.
A path into a list keeps that sub-path of every element.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MISSING = object()


def _pick(value: Any, parts: list[str]) -> Any:
    if not parts:
        return value
    if isinstance(value, dict):
        if parts[0] not in value:
            return _MISSING
        return _pick(value[parts[0]], parts[1:])
    if isinstance(value, list):
        picked = [_pick(item, parts) for item in value]
        return [p for p in picked if p is not _MISSING]
    return _MISSING


def _merge(target: dict[str, Any], parts: list[str], value: Any) -> None:
    head, rest = parts[0], parts[1:]
    if not rest:
        existing = target.get(head)
        if isinstance(existing, dict) and isinstance(value, dict):
            existing.update(value)
        else:
            target[head] = value
        return
    child = target.get(head)
    if not isinstance(child, dict):
        child = target[head] = {}
    _merge(child, rest, value)


def project(
    record: dict[str, Any],
    paths: tuple[str, ...],
    split: Callable[[str], list[str]] = lambda path: path.split("."),
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in paths:
        parts = split(path)
        value = _pick(record, parts)
        if value is not _MISSING:
            _merge(out, parts, value)
    return out
