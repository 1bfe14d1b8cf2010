"""The built-in `file` collector: resource records read from files, for clouds without an API
plugin yet and for air-gapped imports.

Options (`plugin_info.options`):

- `path` (required): a file; a directory (every `*.jsonl`, `*.json`, `*.csv`, `*.jsonl.gz`,
  `*.json.gz`, `*.csv.gz` directly in it, in name order; sub-directories are not entered); or a
  glob (`/exports/*.jsonl`, `/exports/**/*.csv`), its matches read in path order. `~` is expanded.
- `format`: `auto` (default: from each file's extension, `.gz` set aside), `jsonl`, `json` or
  `csv`. A format named here applies to every file read.
- `provider`: the provider of the records that name none.

Files are UTF-8 (a leading byte order mark is allowed); a `.gz` file is decompressed as it is
read. Nothing is loaded whole except a JSON object (see `json`):

- `jsonl`: one record per line, read line by line; blank lines are skipped (still counted).
- `json`: an array of records, read in chunks of 1 MiB; or an object, read whole: either
  `{"results": [...]}` (the output of `inventory cloud-service list`) or a single record.
- `csv`: read row by row. The header row names record fields; a dotted column builds nested
  objects (`data.compute.instance_state`, `tags.env`, `tags.aws.Name` for provider-nested tags,
  `reference.resource_id`), so a key containing a dot cannot be written as a column. A column
  named `data`, `metadata`, `tags` or `reference` holds a JSON object instead (then no dotted
  column may start with that name). Empty (or blank) cells are left out; every value stays a
  string except `instance_size` (a number) and `ip_addresses`, split on commas, semicolons and
  white space (`10.0.0.1, 10.0.0.2`). Columns with a blank header are ignored.

Each record is an object in the shape of `cloud-service create`, adjusted so that the output of
`cloud-service list` can be fed back: top-level nulls are dropped (null means absent), fields
only a stored record has are dropped (`cloud_service_id`, `state`, `tag_keys`,
`collection_info`, `domain_id`, `workspace_id`, `created_at`, `updated_at`, `deleted_at`), so
are `tags.custom` (custom tags belong to the tags API of the server that made them), and a
missing `data` becomes `{}`. Tags may be flat or nested by provider; they pass through.

The plugin checks only what it needs (the core validates the rest): a record must be an object
with non-empty string `provider`, `cloud_service_group` and `cloud_service_type`; `data`,
`metadata`, `tags` and `reference` must be objects and `region_code` a string when present.
A record failing that (or a line that is not JSON, or a CSV cell that cannot be read) becomes a
`CollectError` naming the file, the line (JSON Lines, CSV) or record number (JSON) and the
problem, and reading goes on. A problem that makes the rest of a file unreadable (a broken JSON
array, a bad CSV header) is one such error and the next file is read. A path that does not
exist or names no data file, or a file that cannot be read (permissions, not gzip, cut short,
not UTF-8 — in JSON Lines a line that is not UTF-8 is only that line's error) raises
`PluginError`, which fails the run (records already yielded stay written; nothing is
disconnected). The cancel flag is checked between files and every 500 records.
After the records, each distinct (provider, region_code) seen is yielded once as a
`RegionRecord` (named by its code).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from skyatlas.plugins.base import (
    CollectContext,
    Collected,
    CollectError,
    PluginError,
    PluginMetadata,
    RegionRecord,
)
from skyatlas.plugins.file.formats import OBJECT_FIELDS, error_for, format_of, read_file

_CHECK_EVERY = 500
_REQUIRED = ("provider", "cloud_service_group", "cloud_service_type")
_STORED_ONLY = frozenset(
    {
        "cloud_service_id",
        "state",
        "tag_keys",
        "collection_info",
        "domain_id",
        "workspace_id",
        "created_at",
        "updated_at",
        "deleted_at",
    }
)


class FileOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="A file, a directory or a glob.")
    format: Literal["auto", "jsonl", "json", "csv"] = Field(
        "auto", description="auto: from each file's extension (.gz set aside)."
    )
    provider: str | None = Field(
        None, min_length=1, max_length=255, description="Provider of records naming none."
    )


class FilePlugin:
    metadata = PluginMetadata(
        plugin_id="file",
        kind="collector",
        name="File import",
        description="Resource records from JSON Lines, JSON or CSV files (optionally gzipped).",
        provider=None,
        needs_service_account=False,
        options_model=FileOptions,
    )

    def collect(self, ctx: CollectContext) -> Iterator[Collected]:
        options = _options(ctx.options)
        regions: dict[tuple[str, str], None] = {}
        count = 0
        files = _files(options.path, options.format)
        _check_roots(options.path, files, ctx.import_roots)
        for path, fmt in files:
            if ctx.cancelled():
                return
            ctx.log.debug("reading %s as %s", path, fmt)
            for item in read_file(path, fmt):
                count += 1
                if count % _CHECK_EVERY == 0 and ctx.cancelled():
                    return
                if isinstance(item, CollectError):
                    yield item
                    continue
                record = _record(*item, options.provider)
                if isinstance(record, dict) and record.get("region_code"):
                    regions[(record["provider"], record["region_code"])] = None
                yield record
        for provider, region_code in regions:
            yield RegionRecord(provider=provider, region_code=region_code, name=region_code)


plugin = FilePlugin()


def _options(raw: Mapping[str, Any]) -> FileOptions:
    try:
        return FileOptions.model_validate(dict(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"options.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise PluginError(problems, code="ERROR_INVALID_PARAMETER") from None


def _check_roots(raw: str, files: list[tuple[Path, str]], roots: tuple[Path, ...]) -> None:
    """A server reads only below its import roots: whoever may create a collector must not be
    able to point it at the server's own files (error messages quote bad lines)."""
    if not roots:
        return
    allowed = [r.resolve() for r in roots]
    for path, _fmt in files:
        real = path.resolve()
        if not any(real.is_relative_to(r) for r in allowed):
            where = ", ".join(str(r) for r in allowed)
            raise PluginError(
                f"{raw} is outside the directories this server imports from ({where}); "
                "copy the files there or add a directory to SKYATLAS_IMPORT_ROOTS",
                code="ERROR_PERMISSION_DENIED",
            )


def _files(raw: str, fmt: str) -> list[tuple[Path, str]]:
    """The files `path` names, each with the format to read it in."""
    spec = os.path.expanduser(raw)
    root = Path(spec)
    try:
        if root.is_dir():
            found = sorted(p for p in root.iterdir() if format_of(p.name) and not p.is_dir())
            if not found:
                raise PluginError(f"no .jsonl, .json or .csv files (or .gz) in the directory {raw}")
        elif root.exists():
            found = [root]
        elif any(c in spec for c in "*?["):
            found = sorted(Path(m) for m in glob.glob(spec, recursive=True) if not os.path.isdir(m))
            if not found:
                raise PluginError(f"no file matches {raw}")
        else:
            raise PluginError(f"{raw} does not exist")
    except OSError as exc:
        raise PluginError(f"cannot read {raw}: {exc.strerror or exc}") from None
    files = []
    for p in found:
        chosen = format_of(p.name) if fmt == "auto" else fmt
        if chosen is None:
            raise PluginError(
                f"cannot tell the format of {p} from its name: set options.format "
                "to jsonl, json or csv"
            )
        files.append((p, chosen))
    return files


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return {str: "a string", list: "an array", dict: "an object"}.get(type(value), "a value")


def _record(where: str, value: Any, default_provider: str | None) -> dict[str, Any] | CollectError:
    """The record to yield, or why it cannot be."""
    if not isinstance(value, dict):
        return CollectError(f"{where}: a record must be an object, not {_json_kind(value)}")
    record = {k: v for k, v in value.items() if v is not None and k not in _STORED_ONLY}
    if default_provider and record.get("provider") in (None, ""):
        record["provider"] = default_provider
    problems = []
    for name in _REQUIRED:
        field = record.get(name)
        if field is None or field == "":
            hint = " (or set options.provider)" if name == "provider" else ""
            problems.append(f"{name} is missing{hint}")
        elif not isinstance(field, str):
            problems.append(f"{name} must be a string, not {_json_kind(field)}")
    for name in OBJECT_FIELDS:
        if name in record and not isinstance(record[name], dict):
            problems.append(f"{name} must be an object, not {_json_kind(record[name])}")
    if "region_code" in record and not isinstance(record["region_code"], str):
        problems.append(f"region_code must be a string, not {_json_kind(record['region_code'])}")
    if problems:
        return error_for(f"{where}: {'; '.join(problems)}", record)
    tags = record.get("tags")
    if tags and isinstance(tags.get("custom"), dict):
        record["tags"] = {k: v for k, v in tags.items() if k != "custom"}
    record.setdefault("data", {})
    return record
