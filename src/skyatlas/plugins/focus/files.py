"""Which local files a `path` option names, and whether this server may read them.

A FOCUS export is usually a folder of many files (one per day, month or part), so a directory
is walked recursively; a single file may have any name (its format is then told from its first
bytes), while files found by walking a directory or matching a glob are taken only when their
names say they are data (`.csv`, `.csv.gz`, `.parquet`), so a README or a manifest next to
them does not fail the sync.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from skyatlas.plugins.base import PluginError

Format = Literal["csv", "parquet"]
Compression = Literal["none", "gzip"]

#: Name endings of data files, lower case, and how each is read.
SUFFIXES: dict[str, tuple[Format, Compression]] = {
    ".csv.gz": ("csv", "gzip"),
    ".csv": ("csv", "none"),
    ".parquet": ("parquet", "none"),
}
_GLOB_CHARS = "*?["


@dataclass(frozen=True)
class DataFile:
    """One file to read: where it is, what messages call it, and how to read it."""

    local: Path
    #: What users read in messages: the path as found, or `s3://bucket/key`.
    display: str
    fmt: Format
    compression: Compression


def format_of_name(name: str) -> tuple[Format, Compression] | None:
    lower = name.lower()
    for suffix, found in SUFFIXES.items():
        if lower.endswith(suffix):
            return found
    return None


def sniff(path: Path) -> tuple[Format, Compression]:
    """The format of a file named explicitly, by its name or else its first bytes."""
    found = format_of_name(path.name)
    if found:
        return found
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise PluginError(f"cannot read {path}: {exc.strerror or exc}") from None
    if head == b"PAR1":
        return "parquet", "none"
    if head[:2] == b"\x1f\x8b":
        return "csv", "gzip"
    return "csv", "none"


def local_files(raw: str, roots: tuple[Path, ...]) -> list[DataFile]:
    """The data files `raw` names (sorted by path), checked against the import roots.

    The roots are checked on the path as written *before* the disk is looked at, so a refused
    path reveals nothing about what exists there, and again on every file found (a symlink
    must not lead out of a root)."""
    spec = os.path.expanduser(raw)
    is_glob = any(c in spec for c in _GLOB_CHARS)
    _check_roots(raw, Path(_glob_base(spec) if is_glob else spec), roots)
    root = Path(spec)
    try:
        if not is_glob and root.is_dir():
            found = sorted(p for p in root.rglob("*") if format_of_name(p.name) and p.is_file())
        elif not is_glob and root.is_file():
            found = [root]
        elif is_glob:
            found = sorted(
                Path(m)
                for m in glob.glob(spec, recursive=True)
                if format_of_name(m) and os.path.isfile(m)
            )
        else:
            found = []
    except OSError as exc:
        raise PluginError(f"cannot read {raw}: {exc.strerror or exc}") from None
    if not found:
        raise PluginError(
            f"no FOCUS files found at {raw} (looked for *.csv, *.csv.gz and *.parquet)"
        )
    files = []
    for path in found:
        _check_roots(raw, path, roots)
        fmt, compression = sniff(path)
        files.append(DataFile(local=path, display=str(path), fmt=fmt, compression=compression))
    return files


def _glob_base(spec: str) -> str:
    """The directory a glob cannot leave: its path up to the first part with a wildcard."""
    parts = Path(spec).parts
    base = []
    for part in parts:
        if any(c in part for c in _GLOB_CHARS):
            break
        base.append(part)
    return str(Path(*base)) if base else "."


def _check_roots(raw: str, path: Path, roots: tuple[Path, ...]) -> None:
    """A server reads only below its import roots: whoever may create a data source must not
    be able to point it at the server's own files."""
    if not roots:
        return
    real = path.resolve()
    allowed = [r.resolve() for r in roots]
    if not any(real.is_relative_to(r) for r in allowed):
        where = ", ".join(str(r) for r in allowed)
        raise PluginError(
            f"{raw} is outside the directories this server imports from ({where}); "
            "copy the files there or add a directory to SKYATLAS_IMPORT_ROOTS",
            code="ERROR_PERMISSION_DENIED",
        )
