"""Reading the `file` collector's formats: JSON Lines, JSON and CSV, optionally gzipped.

See the package docstring for what each format may hold.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import json
import math
import re
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from skyatlas.errors import InvalidParameter
from skyatlas.inventory.importer import read_records
from skyatlas.plugins.base import CollectError, PluginError

_FORMATS = {".jsonl": "jsonl", ".json": "json", ".csv": "csv"}
_BOM = b"\xef\xbb\xbf"
OBJECT_FIELDS = ("data", "metadata", "tags", "reference")
_IP_SEPARATORS = re.compile(r"[,;\s]+")

#: What a reader yields: `(where, parsed value)` or an error already worded.
Item = tuple[str, Any] | CollectError


def format_of(name: str) -> str | None:
    name = name.lower().removesuffix(".gz")
    return next((fmt for ext, fmt in _FORMATS.items() if name.endswith(ext)), None)


def read_file(path: Path, fmt: str) -> Iterator[Item]:
    """`(where, value)` for each record of the file, or a `CollectError` for one that is not
    readable; `PluginError` when the file itself cannot be read."""
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            yield from _READERS[fmt](fh, str(path))
    except UnicodeDecodeError:
        raise PluginError(f"cannot read {path}: it is not UTF-8 text") from None
    except (OSError, EOFError, zlib.error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise PluginError(f"cannot read {path}: {reason}") from None


def _read_jsonl(fh: IO[bytes], label: str) -> Iterator[Item]:
    for line_no, raw in enumerate(fh, 1):
        if line_no == 1:
            raw = raw.removeprefix(_BOM)
        if not raw.strip():
            continue
        where = f"{label}: line {line_no}"
        try:
            value = json.loads(raw.rstrip())
        except UnicodeDecodeError:
            yield CollectError(f"{where}: not UTF-8 text")
        except json.JSONDecodeError as exc:
            yield CollectError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})")
        except (ValueError, RecursionError) as exc:
            yield CollectError(f"{where}: not readable JSON ({exc})")
        else:
            yield where, value


def _first_byte(fh: IO[bytes]) -> bytes:
    """The first byte that is not white space (nor a BOM), consuming only what precedes it."""
    while True:
        head = fh.peek(1)  # type: ignore[attr-defined]
        if not head:
            return b""
        if head.startswith(_BOM):
            fh.read(len(_BOM))
            continue
        blank = len(head) - len(head.lstrip())
        if blank:
            fh.read(blank)
        if blank < len(head):
            return head[blank : blank + 1]


def _read_json(fh: IO[bytes], label: str) -> Iterator[Item]:
    first = _first_byte(fh)
    if not first:
        return
    text = io.TextIOWrapper(fh, encoding="utf-8-sig")
    if first == b"[":
        try:
            for number, value in read_records(text):
                yield f"{label}: record {number}", value
        except InvalidParameter as exc:
            yield CollectError(
                f"{label}: {exc.message} (or not valid JSON there); the rest of the file is skipped"
            )
        return
    try:
        document = json.load(text)
    except json.JSONDecodeError as exc:
        yield CollectError(f"{label}: not valid JSON ({exc.msg} at line {exc.lineno})")
        return
    if isinstance(document, dict) and "results" not in document:
        records: Any = [document]
    else:
        records = document.get("results") if isinstance(document, dict) else None
    if not isinstance(records, list):
        yield CollectError(f'{label}: must hold an array of records or {{"results": [...]}}')
        return
    for number, value in enumerate(records, 1):
        yield f"{label}: record {number}", value


@functools.cache
def _record_fields() -> frozenset[str]:
    from skyatlas.inventory.verbs.cloud_service import CloudServiceCreate

    return frozenset(CloudServiceCreate.model_fields) - {"workspace_id"}


def _columns(header: list[str]) -> list[tuple[str, ...] | None] | str:
    """Each column's path in a record (None: ignored), or what is wrong with the header."""
    fields = _record_fields()
    paths: list[tuple[str, ...] | None] = []
    for cell in header:
        name = cell.strip()
        path = tuple(name.split(".")) if name else None
        if path is None:
            pass
        elif path in paths:
            return f"column {name!r} appears twice"
        elif "" in path:
            return f"column {name!r} has an empty part"
        elif path[0] not in fields:
            return f"unknown column {name!r} (record fields: {', '.join(sorted(fields))})"
        elif len(path) > 1 and path[0] not in OBJECT_FIELDS:
            return f"column {name!r}: {path[0]} is not an object"
        paths.append(path)
    named = {p for p in paths if p}
    for path in named:
        for n in range(1, len(path)):
            if path[:n] in named:
                return f"columns {'.'.join(path[:n])!r} and {'.'.join(path)!r} overlap"
    return paths


def _number(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _row(paths: list[tuple[str, ...] | None], cells: list[str]) -> tuple[dict[str, Any], str]:
    """The record a row makes, and what is wrong with it ("" when nothing)."""
    record: dict[str, Any] = {}
    problems = []
    if any(c.strip() for c in cells[len(paths) :]):
        problems.append(f"{len(cells)} cells, but the header names {len(paths)} columns")
    for path, cell in zip(paths, cells, strict=False):
        if path is None or not cell.strip():
            continue
        key, value = path[-1], cell
        if path == ("instance_size",):
            size = _number(cell)
            if size is None:
                problems.append(f"instance_size: {cell!r} is not a number")
                continue
            value = size
        elif path == ("ip_addresses",):
            value = [ip for ip in _IP_SEPARATORS.split(cell) if ip]
        elif len(path) == 1 and key in OBJECT_FIELDS:
            try:
                value = json.loads(cell)
            except (ValueError, RecursionError):
                value = None
            if not isinstance(value, dict):
                problems.append(f"{key}: the cell must hold a JSON object")
                continue
        node = record
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[key] = value
    return record, "; ".join(problems)


def _read_csv(fh: IO[bytes], label: str) -> Iterator[Item]:
    reader = csv.reader(io.TextIOWrapper(fh, encoding="utf-8-sig", newline=""))
    line_no = 1
    try:
        header: list[str] = []
        while not any(c.strip() for c in header):
            header = next(reader, None)  # type: ignore[assignment]
            if header is None:
                return
        paths = _columns(header)
        if isinstance(paths, str):
            yield CollectError(f"{label}: line {reader.line_num}: {paths}; the file is skipped")
            return
        line_no = reader.line_num + 1
        for cells in reader:
            where = f"{label}: line {line_no}"
            line_no = reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            record, problem = _row(paths, cells)
            yield error_for(f"{where}: {problem}", record) if problem else (where, record)
    except csv.Error as exc:
        yield CollectError(f"{label}: line {line_no}: {exc}; the rest of the file is skipped")


_READERS = {"jsonl": _read_jsonl, "json": _read_json, "csv": _read_csv}


def error_for(message: str, record: Mapping[str, Any]) -> CollectError:
    """An error naming the kind of resource when the record says it."""
    group, type_ = record.get("cloud_service_group"), record.get("cloud_service_type")
    return CollectError(
        message,
        cloud_service_group=group if isinstance(group, str) and group else None,
        cloud_service_type=type_ if isinstance(type_, str) and type_ else None,
    )
