"""Which days a sync asks Cost Explorer for, and which months that answer replaces.

Cost Explorer answers for the whole requested range, so every month the range touches is
reported by this sync: a month with no rows in the answer really had no cost, and the core may
replace it (with nothing) instead of keeping a previous sync's rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from skyatlas.plugins.base import PluginError

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Period:
    """Days `first` through `last`, both included."""

    first: date
    last: date

    def time_period(self) -> dict[str, str]:
        """Cost Explorer's `TimePeriod`: its `End` is exclusive, hence the day after `last`."""
        return {"Start": self.first.isoformat(), "End": (self.last + timedelta(days=1)).isoformat()}

    def months(self) -> frozenset[str]:
        """Every `YYYY-MM` the period touches, partly or wholly."""
        out: set[str] = set()
        year, month = self.first.year, self.first.month
        while (year, month) <= (self.last.year, self.last.month):
            out.add(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return frozenset(out)


def resolve_period(start: str | None, end: str | None, months_back: int, today: date) -> Period:
    """The sync's own range when given; otherwise the last `months_back` calendar months
    through `today` (a missing end is `today`; a missing start is the first day of the month
    `months_back - 1` months before the end's)."""
    last = _parse_day("end", end) if end is not None else today
    first = _parse_day("start", start) if start is not None else _month_start(last, months_back - 1)
    if first > last:
        raise PluginError(f"the sync's start date {start!r} is after its end date {end!r}")
    return Period(first, last)


def _month_start(day: date, months_before: int) -> date:
    index = day.year * 12 + (day.month - 1) - months_before
    return date(index // 12, index % 12 + 1, 1)


def _parse_day(name: str, value: str) -> date:
    if not isinstance(value, str) or not _DAY.match(value):
        raise PluginError(f"the sync's {name} date {value!r} is not a YYYY-MM-DD date")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PluginError(f"the sync's {name} date {value!r} is not a valid date") from None
