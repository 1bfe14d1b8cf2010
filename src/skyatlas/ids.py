"""Identifiers and timestamps in the SpaceONE formats (`project-3f9a0c1d2e4b`, `...922Z`)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_id(prefix: str) -> str:
    """`<prefix>-<12 hex>`: 48 random bits, plenty for per-domain uniqueness with a PK check."""
    return f"{prefix}-{secrets.token_hex(6)}"


def utcnow() -> datetime:
    """Now, to the millisecond: what is stored is exactly what the API shows, so a timestamp
    copied from a response matches its record in an `eq` or `datetime_lte` filter."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso(ts: datetime | None) -> str | None:
    """ISO 8601 UTC with milliseconds and `Z`, as every timestamp in both dialects is shown."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 timestamp or date; zone-less values are taken as UTC."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    try:
        return ts.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value!r} is outside the years 1-9999 in UTC") from None
