"""Render answers as yaml, json, table or csv — streaming, so `--all` runs in constant memory.

A list answer is written page by page: json and yaml keep the server's shape
(`{"results": [...], "total_count": N}`) by writing the opening once, each record as it comes,
and the closing at the end; csv and table fix their columns on the first page. Tables never
exceed the terminal's width (80 columns when it is not a terminal): a cell that does not fit is
cut and ends in `…` (only asking for more columns than the width can give one cell each makes
a wider line).
"""

from __future__ import annotations

import csv
import json
import shutil
import unicodedata
from collections.abc import Iterable, Sequence
from typing import IO, Any

FORMATS = ("yaml", "json", "table", "csv")
_GAP = 2
_MAX_COL = 40
_MIN_COL = 6
_SAMPLE = 200  # records a table's columns are chosen and sized from
#: Fields people look for first in any listing, when a record has them (after its id).
_PREFERRED = (
    "name",
    "provider",
    "cloud_service_group",
    "cloud_service_type",
    "region_code",
    "state",
    "project_id",
    "role_type",
)


# -- cells -----------------------------------------------------------------------------------


def pick(record: Any, path: str) -> Any:
    """The value at a dotted path; through lists element by element (`data.disks.size`)."""
    value = record
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list):
            if part.isdigit():
                index = int(part)
                value = value[index] if index < len(value) else None
            else:
                value = [v.get(part) if isinstance(v, dict) else None for v in value]
        else:
            return None
    return value


def text_of(value: Any) -> str:
    """A value as text: strings as they are, objects and lists as compact JSON (CSV cells)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def cell(value: Any) -> str:
    """A value as one line a terminal shows safely: whitespace runs become one space, and other
    control characters (ESC, which could restyle or move the cursor) are shown as `?`."""
    text = text_of(value)
    if text.isprintable():
        return text
    text = " ".join(text.split())
    return "".join(ch if ch.isprintable() or ch == " " else "?" for ch in text)


def width(text: str) -> int:
    """Terminal cells a string takes (East Asian wide characters take two, combining none)."""
    if text.isascii():
        return len(text)
    total = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        total += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return total


def fit(text: str, size: int) -> str:
    """Cut to `size` cells, ending in `…` when anything was cut; pad to exactly `size`."""
    if width(text) <= size:
        return text + " " * (size - width(text))
    out, used = [], 0
    for ch in text:
        w = width(ch)
        if used + w > size - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…" + " " * (size - 1 - used)


def terminal_width() -> int:
    return shutil.get_terminal_size((80, 24)).columns


# -- columns ---------------------------------------------------------------------------------


def default_columns(
    records: Sequence[dict[str, Any]], resource: str | None, limit: int
) -> list[str]:
    """The id, the name, then the other scalar fields, as many as fit in `limit` cells."""
    if not records:
        return []
    first = records[0]
    scalar = [k for k, v in first.items() if not isinstance(v, (dict, list))]
    id_key = f"{resource.replace('-', '_')}_id" if resource else None
    ordered = [k for k in (id_key, *_PREFERRED) if k in scalar]
    ordered += [k for k in scalar if k not in ordered and k != "domain_id"]
    if not ordered:
        ordered = list(first)
    if limit is None:
        return ordered
    chosen, used = [], 0
    for key in ordered:
        natural = min(
            _MAX_COL, max(width(key), *(width(cell(r.get(key))) for r in records[:_SAMPLE]))
        )
        need = natural + (_GAP if chosen else 0)
        if chosen and used + need > limit:
            break
        chosen.append(key)
        used += need
    return chosen


def column_widths(rows: Sequence[Sequence[str]], headers: Sequence[str], limit: int) -> list[int]:
    """Natural widths capped at 40 cells, with room left over given back to the columns that were
    cut. Then, while the line is too wide, the widest column shrinks: first down to its header's
    width (so headers stay readable), then to 6 cells, and as a last resort to 1 (`…`). Only
    more columns than the width can give one cell each make a line longer than `limit`."""
    natural = [max([width(h)] + [width(r[i]) for r in rows]) for i, h in enumerate(headers)]
    sizes = [min(_MAX_COL, n) for n in natural]
    budget = limit - _GAP * (len(headers) - 1)
    for i, n in enumerate(natural):
        spare = budget - sum(sizes)
        if spare > 0 and n > sizes[i]:
            sizes[i] += min(spare, n - sizes[i])
    header_floor = [
        min(n, max(_MIN_COL, min(width(h), 24))) for n, h in zip(natural, headers, strict=True)
    ]
    for floor in (header_floor, [min(n, _MIN_COL) for n in natural], [1] * len(natural)):
        while sum(sizes) > budget:
            shrinkable = [i for i in range(len(sizes)) if sizes[i] > floor[i]]
            if not shrinkable:
                break
            sizes[max(shrinkable, key=lambda i: sizes[i])] -= 1
    return sizes


# -- writers ---------------------------------------------------------------------------------


class ListWriter:
    """Writes a list answer (`results` + `total_count`) that arrives a page at a time."""

    def __init__(
        self,
        out: IO[str],
        fmt: str,
        *,
        columns: Sequence[str] | None = None,
        resource: str | None = None,
        term_width: int | None = None,
        key: str = "results",
    ) -> None:
        self.out, self.fmt, self.resource, self.key = out, fmt, resource, key
        self.columns = list(columns) if columns else None
        self.term_width = term_width or terminal_width()
        self.count = 0
        self.total: int | None = None
        self._started = False
        self._widths: list[int] | None = None
        self._csv: Any = None

    def _project(self, record: dict[str, Any]) -> dict[str, Any]:
        if not self.columns:
            return record
        return {c: pick(record, c) for c in self.columns}

    def page(self, results: Sequence[dict[str, Any]], total: int | None = None) -> None:
        if self.total is None and total is not None:
            self.total = total
        if not self._started:
            self._start(results)
        for record in results:
            self._record(record)
            self.count += 1
        self.out.flush()

    def _start(self, first: Sequence[dict[str, Any]]) -> None:
        self._started = True
        if self.fmt in ("table", "csv") and not self.columns:
            limit = self.term_width if self.fmt == "table" else None
            self.columns = default_columns(first, self.resource, limit)
        if self.fmt == "json":
            self.out.write('{\n  "' + self.key + '": [')
        elif self.fmt == "yaml":
            self.out.write(f"{self.key}:")
        elif self.fmt == "csv":
            self._csv = csv.writer(self.out, lineterminator="\n")
            self._csv.writerow(self.columns)
        elif self.fmt == "table" and self.columns:
            rows = [[cell(pick(r, c)) for c in self.columns] for r in first[:_SAMPLE]]
            self._widths = column_widths(rows, self.columns, self.term_width)
            self._line([c.upper() for c in self.columns])

    def _line(self, cells: Sequence[str]) -> None:
        assert self._widths is not None
        text = (" " * _GAP).join(fit(c, w) for c, w in zip(cells, self._widths, strict=True))
        self.out.write(text.rstrip() + "\n")

    def _record(self, record: dict[str, Any]) -> None:
        if self.fmt == "json":
            text = json.dumps(self._project(record), indent=2, ensure_ascii=False, default=str)
            sep = "," if self.count else ""
            self.out.write(sep + "\n    " + text.replace("\n", "\n    "))
        elif self.fmt == "yaml":
            self.out.write("\n" + _yaml([self._project(record)]).rstrip("\n"))
        elif self.fmt == "csv":
            self._csv.writerow([text_of(pick(record, c)) for c in self.columns or ()])
        elif self._widths is not None:
            self._line([cell(pick(record, c)) for c in self.columns or ()])

    def close(self) -> None:
        if not self._started:
            self._start([])
        total = self.total if self.total is not None else self.count
        if self.fmt == "json":
            self.out.write(("\n  ]" if self.count else "]") + f',\n  "total_count": {total}\n}}\n')
        elif self.fmt == "yaml":
            self.out.write((" []" if not self.count else "") + f"\ntotal_count: {total}\n")
        self.out.flush()


def _yaml(data: Any) -> str:
    import yaml

    # libyaml's emitter writes the same text as the pure-Python one, about 4x faster: it is
    # what `--all -o yaml` over thousands of resources spends its time on.
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(
        data, Dumper=dumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


def write_document(
    out: IO[str], data: Any, fmt: str, *, columns: Sequence[str] | None = None
) -> None:
    """A single answer (get, create, stat without results, …)."""
    if columns and isinstance(data, dict):
        data = {c: pick(data, c) for c in columns}
    if fmt == "json":
        out.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    elif fmt == "yaml":
        out.write(_yaml(data))
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        items = data.items() if isinstance(data, dict) else enumerate(_as_list(data))
        writer.writerow(["field", "value"])
        for key, value in items:
            writer.writerow([key, text_of(value)])
    else:
        items = list(data.items()) if isinstance(data, dict) else list(enumerate(_as_list(data)))
        rows = [[str(k), cell(v)] for k, v in items]
        limit = terminal_width()
        sizes = column_widths(rows, ["FIELD", "VALUE"], limit)
        for row in [["FIELD", "VALUE"], *rows]:
            text = (" " * _GAP).join(fit(c, w) for c, w in zip(row, sizes, strict=True))
            out.write(text.rstrip() + "\n")
    out.flush()


def _as_list(data: Any) -> list[Any]:
    return data if isinstance(data, list) else [data]


def write_rows(out: IO[str], records: Iterable[dict[str, Any]], fmt: str, **kwargs: Any) -> int:
    """Convenience for a finite list: one page, then close. Returns the records written."""
    writer = ListWriter(out, fmt, **kwargs)
    records = list(records)
    writer.page(records, len(records))
    writer.close()
    return writer.count
