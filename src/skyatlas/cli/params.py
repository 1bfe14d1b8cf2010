"""Build a request body from `-f FILE`, `-j JSON` and `-p key=value` (in that order of merge)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


class ParamError(ValueError):
    """A parameter the user wrote cannot become part of a request body."""


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_value(text: str) -> Any:
    """JSON when it parses (`5`, `true`, `null`, `[1,2]`, `{"a":1}`, `"5"`), else the text.
    `NaN` and `Infinity` are text: Python's parser takes them, but JSON has no such numbers."""
    try:
        return json.loads(text, parse_constant=_no_constants)
    except ValueError:
        return text


def parse_assignment(item: str) -> tuple[list[str], Any]:
    key, sep, value = item.partition("=")
    path = key.strip().split(".")
    if not sep or not key.strip() or any(not p for p in path):
        raise ParamError(
            f"bad -p '{item}': expected key=value (dotted keys nest: query.page.limit=5)"
        )
    return path, parse_value(value)


def set_path(body: dict[str, Any], path: list[str], value: Any, *, source: str) -> None:
    node = body
    for i, part in enumerate(path[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(path[: i + 1])
            raise ParamError(f"bad -p '{source}': {where} is already set to a non-object value")
        node = child
    node[path[-1]] = value


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` wins; objects merge key by key, everything else is replaced."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_file(path: Path) -> dict[str, Any]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParamError(f"cannot read -f {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)  # YAML is a superset of JSON: one parser reads both
    except yaml.YAMLError as exc:
        raise ParamError(f"-f {path} is neither YAML nor JSON: {exc}".splitlines()[0]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamError(f"-f {path} must hold an object (a mapping), not a {type(data).__name__}")
    return data


def build_body(
    file: Path | None, json_text: str | None, assignments: Iterable[str]
) -> dict[str, Any]:
    body: dict[str, Any] = load_file(file) if file else {}
    if json_text:
        try:
            extra = json.loads(json_text, parse_constant=_no_constants)
        except ValueError as exc:
            raise ParamError(f"-j is not valid JSON: {exc}") from None
        if not isinstance(extra, dict):
            raise ParamError("-j must be a JSON object")
        body = deep_merge(body, extra)
    for item in assignments:
        path, value = parse_assignment(item)
        set_path(body, path, value, source=item)
    return body


def apply_query_flags(
    body: dict[str, Any], *, sort: str | None, rows: int | None, minimal: bool
) -> dict[str, Any]:
    """`-s [-]key`, `-r N` and `-m` become the server-side `query.sort`, `page` and `minimal`."""
    query = body.get("query")
    if query is None:
        query = {}
    if not isinstance(query, dict):
        raise ParamError("query must be an object")
    query = dict(query)
    if sort:
        key = sort[1:] if sort[:1] in "-+" else sort
        if not key:
            raise ParamError(f"bad -s '{sort}': expected [-]key, e.g. -s -created_at")
        query["sort"] = [{"key": key, "desc": sort.startswith("-")}]
    if rows is not None:
        query["page"] = {"start": 1, "limit": rows}
    if minimal:
        query["minimal"] = True
    if query or "query" in body:
        return {**body, "query": query}
    return body
