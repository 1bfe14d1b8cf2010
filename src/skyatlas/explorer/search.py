"""`POST /api/v1/resources/search`: KCRN and filter_string search over the shared inventory.

The Resource Explorer names map onto the same columns the SpaceONE dialect uses: service and
resource_type are the cloud service group and type, region is `region_code` (`global` when
empty), resource_id the provider's id (the cloud service id when the resource has none).
Everything compiles to one SQLAlchemy statement on either backend; user text only ever reaches
SQL as bound values.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    false,
    func,
    not_,
    or_,
    select,
    true,
)

from skyatlas.errors import InvalidParameter
from skyatlas.explorer import filter_string, kcrn, kcrn_spans
from skyatlas.explorer.filter_string import Filter, FilterError, Pattern, Term
from skyatlas.explorer.sqlmatch import form_parts, glob_parts, matches
from skyatlas.explorer.tags import (
    count_with_pair,
    exact_pair,
    resource_tags,
    row_has_tag,
    tag_ids_matching,
    tagged_ids,
)
from skyatlas.identity.caller import Caller
from skyatlas.inventory.service import VISIBLE_STATES, scope
from skyatlas.store import textindex
from skyatlas.store.counts import count_rows
from skyatlas.store.tables import (
    KCRN,
    KCRN_PROJECT,
    KCRN_REGION,
    KCRN_RESOURCE_ID,
)
from skyatlas.store.tables import cloud_services as cs

MAX_LIMIT = 500
#: Beyond this many matches, a page in KCRN order is cheaper walked along the KCRN index than
#: sorted (a tag set of many resources then only probes, never drives).
WALK_THRESHOLD = 2000
#: From this many matches on, a walked page tests tags per row (see `_per_row_pays`).
PER_ROW_MATCHES = 20_000
#: ...and only for pages ending within the first 1/PER_ROW_DEPTH of the matches.
PER_ROW_DEPTH = 100
SORT_KEYS = ("resource_name", "resource_id", "resource_type", "service")

REGION = KCRN_REGION
PROJECT = KCRN_PROJECT
RESOURCE_ID = KCRN_RESOURCE_ID
#: KCRN order, then the cloud service id, which makes the order total even for two resources
#: with the same KCRN in different workspaces. The KCRN's index serves it.
KCRN_ORDER = (KCRN, cs.c.cloud_service_id)
_SORT_COLUMNS = {
    "resource_name": cs.c.name,
    "resource_id": RESOURCE_ID,
    "resource_type": cs.c.cloud_service_type,
    "service": cs.c.cloud_service_group,
}


class SearchFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filter_kcrn: StrictStr | None = Field(
        None,
        description="kcrn:{region}:{project_id}:{service}:{resource_type}:{resource_id}, "
        "each segment a glob (`*` matches any run of characters).",
    )
    filter_string: StrictStr | None = Field(
        None, description="Conditions joined by `&`, e.g. `service=EC2&tag.key=env&tag.value=prod`."
    )


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filter: SearchFilter | None = None
    offset: StrictInt = Field(0, ge=0)
    limit: StrictInt = Field(MAX_LIMIT, ge=1, le=MAX_LIMIT)
    sort: StrictStr | None = Field(
        None,
        description="`+field` or `-field`: resource_name, resource_id, resource_type, service.",
    )


# -- compiling -------------------------------------------------------------------------------


def kcrn_prefix(prefix: str) -> list[ColumnElement[bool]]:
    """KCRNs starting with `prefix`, as a range the KCRN index answers (binary / "C" order on
    both backends, so the range holds exactly the strings with that prefix)."""
    if len(prefix) <= len("kcrn:"):
        return []
    last = ord(prefix[-1]) + 1
    if last == 0xD800:  # skip the surrogates, which no stored string contains
        last = 0xE000
    if last > 0x10FFFF:  # nothing sorts after the last code point: no upper bound
        return [prefix <= KCRN]
    return [prefix <= KCRN, prefix[:-1] + chr(last) > KCRN]


def resource_id_is(value: str) -> ColumnElement[bool]:
    """The resource shown with this resource_id; spelled so each arm can use an index (on
    `resource_id`, or the primary key)."""
    if value == "":
        return false()  # no resource is shown with an empty id
    return or_(
        cs.c.resource_id == value,
        and_(
            or_(cs.c.resource_id.is_(None), cs.c.resource_id == ""),
            cs.c.cloud_service_id == value,
        ),
    )


def _pattern(expr: Any, pattern: Pattern, dialect: str) -> ColumnElement[bool]:
    return matches(expr, form_parts(pattern.form, pattern.text), dialect)


def region_is(value: str) -> ColumnElement[bool]:
    """The region shown as `value`, on the `region_code` column itself: what the kept counts
    and the region index answer."""
    if value == kcrn.GLOBAL_REGION:
        return or_(cs.c.region_code.is_(None), cs.c.region_code.in_(["", value]))
    return cs.c.region_code == value


def _column_term(
    term: Term, dialect: str, probe: bool = False, counting: bool = False
) -> ColumnElement[bool]:
    """A condition on one of the resource's own fields, negation included.

    `probe`: the page is read along the KCRN index, so a name pattern is tested row by row
    rather than looked up in the trigram index (which would drive the query and sort every
    match instead of stopping after a page). `counting`: the condition is for the count, which
    needs no order, so a region is tested on its own column (see `region_is`)."""
    p = term.pattern
    if p.form == "any":
        return false() if term.negated else true()
    if term.key == "region":
        if term.negated:
            return p.text != REGION
        if counting:
            return region_is(p.text)
        # The region starts the KCRN: a range of its index (where a page in KCRN order
        # starts), and the exact test.
        return and_(*kcrn_prefix(f"kcrn:{p.text}:"), p.text == REGION)
    if term.key == "resource_id":
        if p.form == "exact" and not term.negated:
            return resource_id_is(p.text)
        clause = _pattern(RESOURCE_ID, p, dialect)
        return not_(clause) if term.negated else clause
    if term.key == "project_id":
        clause = _pattern(PROJECT, p, dialect)
        return not_(clause) if term.negated else clause
    column = {
        "resource_name": cs.c.name,
        "service": cs.c.cloud_service_group,
        "resource_type": cs.c.cloud_service_type,
        "provider": cs.c.provider,
    }[term.key]
    clause = _pattern(column, p, dialect)
    if not term.negated:
        # A name pattern no B-tree can answer (`*web*`, `*-01`): the trigram index can.
        substring = column is cs.c.name and p.form in ("contains", "suffix") and not probe
        indexed = textindex.name_prefilter(column, p.text) if substring else None
        return clause if indexed is None else and_(indexed, clause)
    if column.nullable:  # a resource without a name is "not named x"
        return or_(column.is_(None), not_(clause))
    return not_(clause)


def _tag_conditions(
    flt: Filter, dialect: str, probe: bool = False, per_row: bool = False
) -> list[ColumnElement[bool]]:
    """Positive tag.key/tag.value terms must hold for one and the same tag; a negated term means
    no tag of the resource matches it; tag:all / tag:none ask for at least one tag / none.

    `probe`: the id is tested against the tag set row by row instead of driving the query from
    it (SQLite will not look up an expression in an index), so a page in KCRN order walks the
    KCRN index and stops after `limit` matches instead of sorting every match. `per_row`: the
    positive terms are tested on each walked row's own tags instead (no tag set is built)."""
    rid = cs.c.cloud_service_id.concat("") if probe else cs.c.cloud_service_id
    out: list[ColumnElement[bool]] = []
    positive = [t for t in flt.by_key("tag.key", "tag.value") if not t.negated]
    if positive:
        key = [t.pattern for t in positive if t.key == "tag.key"]
        value = [t.pattern for t in positive if t.key == "tag.value"]
        if per_row:
            out.append(row_has_tag(key, value, dialect))
        else:
            out.append(rid.in_(tag_ids_matching(key, value, dialect)))
    for term in flt.by_key("tag.key", "tag.value"):
        if term.negated:
            key = [term.pattern] if term.key == "tag.key" else []
            value = [term.pattern] if term.key == "tag.value" else []
            out.append(not_(rid.in_(tag_ids_matching(key, value, dialect))))
    if "tag:all" in flt.words:
        out.append(rid.in_(tagged_ids()))
    if "tag:none" in flt.words:
        out.append(not_(rid.in_(tagged_ids())))
    return out


def kcrn_conditions(
    pattern: str, dialect: str, span: kcrn_spans.Span | None = None
) -> list[ColumnElement[bool]]:
    """The glob's tests, with the range of its literal prefix; or, for one of its spans (see
    `kcrn_spans`), the span's range and equalities, and the resource id's test if it needs
    one."""
    try:
        region, project, service, rtype, rid = kcrn.split(pattern, what="filter_kcrn")
    except InvalidParameter as exc:
        raise FilterError(exc.message) from None
    if span is not None:
        out = kcrn_prefix(span.prefix)
        if span.tested:
            out += [
                REGION == span.region,  # noqa: SIM300 (a column expression, not a constant)
                cs.c.cloud_service_group == span.service,
                cs.c.cloud_service_type == span.resource_type,
            ]
        if not (rid.endswith("*") and rid.count("*") == 1):
            out.append(matches(RESOURCE_ID, glob_parts(rid), dialect))
        return out
    star = pattern.find("*")
    out = kcrn_prefix(pattern if star < 0 else pattern[:star])
    for expr, segment in (
        (REGION, region),
        (PROJECT, project),
        (cs.c.cloud_service_group, service),
        (cs.c.cloud_service_type, rtype),
    ):
        out.append(matches(expr, glob_parts(segment), dialect))
    if "*" in rid:
        out.append(matches(RESOURCE_ID, glob_parts(rid), dialect))
    else:
        out.append(resource_id_is(rid))
    return out


def conditions(
    req: SearchRequest,
    dialect: str,
    *,
    probe: bool = False,
    per_row: bool = False,
    span: kcrn_spans.Span | None = None,
    counting: bool = False,
) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    flt = req.filter or SearchFilter()
    if flt.filter_kcrn is not None:
        out.extend(kcrn_conditions(flt.filter_kcrn, dialect, span))
    parsed = filter_string.parse(flt.filter_string)
    for term in parsed.terms:
        if not term.key.startswith("tag."):
            out.append(_column_term(term, dialect, probe, counting))
    out.extend(_tag_conditions(parsed, dialect, probe, per_row))
    return out


def order_by(sort: str | None) -> list[Any]:
    if not sort:
        return list(KCRN_ORDER)
    desc = sort.startswith("-")
    key = sort[1:] if sort[:1] in "+-" else sort
    if key not in _SORT_COLUMNS:
        raise InvalidParameter(
            f'sort "{sort}" is not supported; use +field or -field with one of '
            + ", ".join(SORT_KEYS)
        )
    column = _SORT_COLUMNS[key]
    return [column.desc() if desc else column.asc(), *KCRN_ORDER]


# -- running ---------------------------------------------------------------------------------


def render(row: Any, tags: list[dict[str, Any]]) -> dict[str, Any]:
    m = row._mapping
    return {
        "kcrn": str(kcrn.Kcrn.of(m)),
        "project_id": m["project_id"],
        "region": m["region_code"] or kcrn.GLOBAL_REGION,  # as KCRN_REGION reads it
        "resource_type": m["cloud_service_type"],
        "service": m["cloud_service_group"],
        "resource_id": m["resource_id"] or m["cloud_service_id"],
        "resource_name": m["name"],
        "user_name": m["created_by"],
        "tags": tags,
        "provider": m["provider"],
        "cloud_service_id": m["cloud_service_id"],
    }


def _per_row_pays(req: SearchRequest, total: int) -> bool:
    """Whether a walked page should test tags on each row rather than against the tag set.
    Building the set costs about 1 µs per match; testing a row's own tags about 5 µs, and the
    walk reads (offset + limit) times rows-per-match rows. With many matches and an early page
    the walk is short; deep pages of a rarer tag keep the set. (PostgreSQL, expecting an early
    match, would compare each walked row with the whole set instead of hashing it.)"""
    return total >= PER_ROW_MATCHES and (req.offset + req.limit) * PER_ROW_DEPTH <= total


def _count(
    conn: Connection, caller: Caller, req: SearchRequest, where: list[ColumnElement[bool]]
) -> int:
    """The exact total_count: from the tag rows' own scope columns for a lone key=value pair
    (a broad tag matches hundreds of thousands of resources), else by counting the query."""
    flt = req.filter or SearchFilter()
    pair = (
        None if flt.filter_kcrn is not None else exact_pair(filter_string.parse(flt.filter_string))
    )
    if pair is not None:
        return count_with_pair(conn, caller, *pair)
    return count_rows(conn, cs, and_(*where))


_COLUMNS = (
    cs.c.cloud_service_id,
    cs.c.project_id,
    cs.c.region_code,
    cs.c.cloud_service_group,
    cs.c.cloud_service_type,
    cs.c.resource_id,
    cs.c.name,
    cs.c.created_by,
    cs.c.provider,
    cs.c.tags,
)


def _rows(
    conn: Connection, where: list[ColumnElement[bool]], order: list[Any], offset: int, limit: int
) -> list[Any]:
    return list(
        conn.execute(
            select(*_COLUMNS).where(*where).order_by(*order).offset(offset).limit(limit)
        ).all()
    )


def _in_spans(
    conn: Connection,
    req: SearchRequest,
    visible: list[ColumnElement[bool]],
    spans: list[kcrn_spans.Span],
    where: list[ColumnElement[bool]],
    order: list[Any],
) -> tuple[list[Any], int]:
    """The page and total of a KCRN glob read span by span (see `kcrn_spans`): each span
    counted from the KCRN index, then the page taken from the spans it falls in, in order."""
    dialect = conn.dialect.name
    wheres = [[*visible, *conditions(req, dialect, span=s)] for s in spans]
    # Straight from the KCRN index: the kept counts cannot answer a range of KCRNs.
    counts = [
        conn.execute(select(func.count()).select_from(cs).where(*w)).scalar_one() for w in wheres
    ]
    total = sum(counts)
    if req.sort:  # the whole glob's conditions, in the sort's order
        return _rows(conn, where, order, req.offset, req.limit), total
    rows: list[Any] = []
    for i, skip, take in kcrn_spans.page(counts, req.offset, req.limit):
        rows += _rows(conn, wheres[i], list(KCRN_ORDER), skip, take)
    return rows, total


def search(conn: Connection, caller: Caller, req: SearchRequest) -> dict[str, Any]:
    dialect = conn.dialect.name
    visible = [*scope(conn, caller), cs.c.state.in_(VISIBLE_STATES)]
    where = [*visible, *conditions(req, dialect)]
    order = order_by(req.sort)  # an unknown sort key is refused even when nothing matches
    flt = req.filter or SearchFilter()
    spans = kcrn_spans.spans(conn, flt.filter_kcrn, visible) if flt.filter_kcrn else None
    if spans is not None:
        rows, total = _in_spans(conn, req, visible, spans, where, order)
    else:
        total = _count(conn, caller, req, [*visible, *conditions(req, dialect, counting=True)])
        rows = []
        if req.offset < total:
            if not req.sort and total > WALK_THRESHOLD:
                per_row = _per_row_pays(req, total)
                where = [*visible, *conditions(req, dialect, probe=True, per_row=per_row)]
            rows = _rows(conn, where, order, req.offset, req.limit)
    tags = resource_tags(conn, rows)
    resources = [render(r, tags[r.cloud_service_id]) for r in rows]
    return {
        "success": True,
        "resources": resources,
        "count": len(resources),
        "total_count": total,
    }
