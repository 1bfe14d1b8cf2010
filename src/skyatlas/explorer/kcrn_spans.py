"""A `filter_kcrn` glob with wildcards in its leading segments, as the exact KCRN prefixes that
can hold its matches.

The KCRN index answers a prefix as one range. `kcrn:eu-*:*:EC2:Instance:i-0*` has only
`kcrn:eu-` as a literal prefix: a range over every resource of every European region, a large
part of the inventory, each entry tested against the rest of the glob. The kept counts
(`skyatlas.store.counts`, SQLite) know every (region, project, service, resource type) the
caller has resources in; the combinations that match the glob's segments give prefixes such as
`kcrn:eu-central-1:<project>:EC2:Instance:i-0`, whose ranges hold the matches and little else.
Counting and paging then read those ranges, in KCRN order, one after the other.

Within a span the glob's segment tests become equalities on the region, service and type, which
the KCRN index holds beside the KCRN, so a count reads index entries only; and when no region,
service or type in the caller's inventory holds a `:`, the range alone decides them (half the
cost of a count). The project needs no test: project ids are generated (`project-<hex>`) and
never hold `:`, so a KCRN that starts with `kcrn:<region>:<project>:<service>:<type>:` has that
project once the other three are equal. By the same token the resource id starts with the
glob's literal id prefix, so a glob ending in its only `*` (`i-0*`) needs no test of the
resource id, the one column a count would otherwise read each row for.

Where the counts cannot say (PostgreSQL), or a glob leaves too many combinations open, there
are no spans and the search reads the one range of the literal prefix as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, func, select

from skyatlas.explorer import kcrn
from skyatlas.explorer.sqlmatch import glob_parts
from skyatlas.store.counts import counted
from skyatlas.store.tables import cloud_services as cs

#: Above this many prefixes, one statement over the literal prefix's range is the cheaper plan.
MAX_SPANS = 64

_COMBINATION = (
    cs.c.region_code,
    cs.c.project_id,
    cs.c.cloud_service_group,
    cs.c.cloud_service_type,
)


@dataclass(frozen=True)
class Span:
    """One combination matching the glob, and the KCRN prefix its matches share."""

    prefix: str
    region: str
    service: str
    resource_type: str
    #: Whether the range can hold resources of another combination (some region, service or
    #: type holds a `:`), so the three must be tested.
    tested: bool


def _regex(segment: str) -> re.Pattern[str]:
    parts = glob_parts(segment)
    return re.compile("".join(".*" if p is None else re.escape(p) for p in parts), re.DOTALL)


def spans(
    conn: Connection, pattern: str, where: Sequence[ColumnElement[bool]]
) -> list[Span] | None:
    """The spans, sorted and not overlapping: KCRN prefixes that together hold every resource
    matching `pattern` and `where` (the caller's scope and visible states), or None when the glob's
    leading segments have no wildcard (its literal prefix is already exact), the store keeps no
    counts, or the prefixes would be too many."""
    region, project, service, rtype, rid = kcrn.split(pattern, what="filter_kcrn")
    if "*" not in f"{region}{project}{service}{rtype}":
        return None
    stmt = select(*_COMBINATION, func.count()).where(*where).group_by(*_COMBINATION)
    kept = counted(conn, stmt)
    if kept is stmt:  # the counts cannot answer: reading the resources would cost more
        return None
    tests = [_regex(s) for s in (region, project, service, rtype)]
    id_prefix = rid.split("*", 1)[0]
    combinations = [
        (region_code or kcrn.GLOBAL_REGION, project_id or "", group, type_)
        for region_code, project_id, group, type_, _ in conn.execute(kept)
    ]
    tested = any(":" in v for c in combinations for v in (c[0], c[2], c[3]))
    found: dict[str, Span] = {}
    for values in combinations:
        if all(t.fullmatch(v) for t, v in zip(tests, values, strict=True)):
            prefix = ":".join((kcrn.PREFIX, *values, id_prefix))
            span = Span(prefix, values[0], values[2], values[3], tested)
            if found.setdefault(prefix, span) != span:
                return None  # two combinations spelled alike (`EC2` + `a:b`, `EC2:a` + `b`)
            if len(found) > MAX_SPANS:
                return None
    out: list[Span] = []
    for prefix in sorted(found):
        # A service or type holding `:` can make one prefix start another (`EC2` + `Instance`
        # and `EC2:Instance` + `spot`). The equalities still keep each resource in its own span
        # alone, but one span's matches would then sort among the other's, and pages read span
        # after span would leave KCRN order: such a glob is read as one range.
        if out and prefix.startswith(out[-1].prefix):
            return None
        out.append(found[prefix])
    return out


def page(counts: Sequence[int], offset: int, limit: int) -> list[tuple[int, int, int]]:
    """Which spans a page reads: `(span index, offset in it, rows from it)`, given each span's
    count, for the rows `offset .. offset + limit` of the spans read one after the other."""
    out = []
    skip, want = offset, limit
    for i, n in enumerate(counts):
        if want <= 0:
            break
        if skip >= n:
            skip -= n
            continue
        take = min(n - skip, want)
        out.append((i, skip, take))
        want -= take
        skip = 0
    return out
