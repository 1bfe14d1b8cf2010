"""Property tests for the query layer.

(a) Parsing never fails with anything but `InvalidParameter` (a 400), whatever JSON arrives.
(b) A compiled filter selects exactly what a small pure-Python evaluator selects, in the same
    order, on random projects stored in a real (SQLite) store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from skyatlas.config import Settings
from skyatlas.errors import InvalidParameter
from skyatlas.identity.verbs.project import FIELDS
from skyatlas.query.execute import run_list
from skyatlas.query.model import OPERATORS, Query, StatQuery
from skyatlas.query.spaceone import parse_query, parse_stat_query
from skyatlas.store.engine import open_store
from skyatlas.store.migrate import upgrade
from skyatlas.store.tables import domains, projects, workspaces

# --------------------------------------------------------------------------------------------
# (a) parsing is total: a model or InvalidParameter

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
keys = st.sampled_from(
    ["name", "created_at", "tags.env", "data.a.b", "", "x" * 600, "a\x00b"]
) | st.text(max_size=10)
operators = st.sampled_from([*OPERATORS, "bogus", "", "EQ"]) | json_values
datetimeish = (
    st.sampled_from(
        [
            "2024-01-01",
            "2024-01-01T00:00:00Z",
            "2024-13-01",
            "9999-12-31T23:59:59-01:00",
            "0001-01-01T00:00:00+01:00",
            "yesterday",
            "",
        ]
    )
    | st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
    ).map(lambda d: d.isoformat())
    | st.from_regex(
        r"\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d{1,6})?)?([+-]\d\d:\d\d|Z)?)?", fullmatch=True
    )
)
timediffish = st.from_regex(r"now(/[dwmy])? ?([+-] ?\d{1,12} ?[smhdwy])?", fullmatch=True)
regexish = st.text(alphabet="a()[]{}?*+|\\^$.0123456789P<>,=!:", max_size=14)
values = (
    json_values
    | datetimeish
    | timediffish
    | regexish
    | st.lists(regexish | datetimeish | json_scalars, max_size=3)
)
conditions = st.fixed_dictionaries(
    {},
    optional={
        "k": keys,
        "key": keys,
        "v": values,
        "value": values,
        "o": operators,
        "operator": operators,
    },
)
condition_lists = st.lists(conditions, max_size=3) | json_values
sorts = (
    st.lists(
        st.fixed_dictionaries({}, optional={"key": keys, "desc": json_scalars, "x": json_scalars}),
        max_size=3,
    )
    | st.fixed_dictionaries({"key": keys}, optional={"desc": st.booleans()})
    | json_values
)
pages = (
    st.fixed_dictionaries(
        {},
        optional={
            "start": st.integers(min_value=-3, max_value=2**40) | json_scalars,
            "limit": st.integers(min_value=-3, max_value=20_000) | json_scalars,
            "x": json_scalars,
        },
    )
    | json_values
)
queries = st.fixed_dictionaries(
    {},
    optional={
        "filter": condition_lists,
        "filter_or": condition_lists,
        "keyword": st.text(max_size=12) | json_scalars,
        "only": st.lists(keys, max_size=3) | json_values,
        "sort": sorts,
        "page": pages,
        "minimal": json_scalars,
        "count_only": json_scalars,
        "bogus": json_scalars,
    },
)

group_keys = st.fixed_dictionaries(
    {},
    optional={
        "key": keys,
        "name": keys,
        "date_format": st.sampled_from(["%Y", "%Y-%m", "%A", "%"]) | json_scalars,
        "x": json_scalars,
    },
)
group_fields = st.fixed_dictionaries(
    {},
    optional={
        "key": keys,
        "name": keys,
        "operator": st.sampled_from(
            ["count", "sum", "average", "max", "min", "first", "last", "push", "add_to_set", "x"]
        )
        | json_scalars,
        "x": json_scalars,
    },
)
stage_bodies = {
    "group": st.fixed_dictionaries(
        {},
        optional={
            "keys": st.lists(group_keys, max_size=3) | json_values,
            "fields": st.lists(group_fields, max_size=3) | json_values,
            "x": json_scalars,
        },
    )
    | json_values,
    "sort": sorts | st.fixed_dictionaries({"keys": sorts}),
    "limit": st.integers(min_value=-2, max_value=2**40) | json_scalars,
    "skip": st.integers(min_value=-2, max_value=2**40) | json_scalars,
    "count": st.fixed_dictionaries({}, optional={"name": keys}) | json_values,
    "unwind": st.fixed_dictionaries({}, optional={"path": keys}) | json_values,
    "project": st.fixed_dictionaries(
        {},
        optional={
            "fields": st.lists(
                st.fixed_dictionaries({}, optional={"key": keys, "name": keys}) | json_scalars,
                max_size=3,
            )
            | json_values
        },
    )
    | json_values,
    "match": st.fixed_dictionaries({}, optional={"filter": condition_lists}) | json_values,
    "bogus": json_values,
}
stages = st.one_of(
    *[body.map(lambda b, name=name: {name: b}) for name, body in stage_bodies.items()],
    json_values,
    st.dictionaries(st.sampled_from(sorted(stage_bodies)), json_values, min_size=2, max_size=3),
)
stat_queries = st.fixed_dictionaries(
    {},
    optional={
        "filter": condition_lists,
        "filter_or": condition_lists,
        "keyword": st.text(max_size=12) | json_scalars,
        "distinct": keys | json_scalars,
        "aggregate": st.lists(stages, max_size=4) | stages | json_values,
        "page": pages,
        "sort": sorts,
    },
)

# Inputs that once escaped as something other than InvalidParameter.
_OUT_OF_RANGE = {"k": "created_at", "v": "9999-12-31T23:59:59-01:00", "o": "datetime_gt"}
_HUGE_REPEAT = {"k": "name", "v": "a{4294967296}", "o": "regex"}
_BRACES = {"k": "name", "v": {"a": 1}, "o": "eq"}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=queries | json_values)
@example(raw={"filter": [_OUT_OF_RANGE]})
@example(raw={"filter": [{**_OUT_OF_RANGE, "v": "0001-01-01T00:00:00+01:00"}]})
@example(raw={"filter_or": [_HUGE_REPEAT]})
@example(raw={"filter": [{"k": "name", "v": ["ok", "a{4294967296}"], "o": "regex_in"}]})
@example(raw={"filter": [_BRACES]})
@example(raw={"filter": [{"k": "name", "v": "{x}", "o": "in"}]})
def test_parse_query_returns_a_query_or_raises_invalid_parameter(raw):
    try:
        parsed = parse_query(raw)
    except InvalidParameter as exc:
        assert exc.status == 400 and exc.message
        return
    assert isinstance(parsed, Query)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=stat_queries | json_values)
@example(raw={"distinct": "created_at", "filter": [_OUT_OF_RANGE]})
@example(raw={"aggregate": [{"match": {"filter": [_HUGE_REPEAT]}}, {"count": {}}]})
@example(raw={"distinct": "name", "filter": [_BRACES]})
def test_parse_stat_query_returns_a_query_or_raises_invalid_parameter(raw):
    try:
        parsed = parse_stat_query(raw)
    except InvalidParameter as exc:
        assert exc.status == 400 and exc.message
        return
    assert isinstance(parsed, StatQuery)
    assert (parsed.distinct is None) != (not parsed.aggregate)


# --------------------------------------------------------------------------------------------
# (b) compiled filters agree with a pure-Python evaluator

DOMAIN = "domain-000000000001"
WORKSPACE = "workspace-000000000001"
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
# `%`, `_` and `/` exercise LIKE escaping (`/` is the escape character); mixed case tests lower().
ALPHABET = "aAbB_%/"
TAG_KEYS = ["env", "team", "k.8s"]  # a tag key with a dot is one key, not a path
QUERY_KEYS = ["name", *(f"tags.{k}" for k in TAG_KEYS)]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = open_store(Settings(data_dir=tmp_path_factory.mktemp("props") / "data"))
    upgrade(store)
    with store.begin() as conn:
        conn.execute(
            insert(domains).values(
                domain_id=DOMAIN,
                name="d",
                state="ENABLED",
                tags={},
                created_at=EPOCH,
                updated_at=EPOCH,
            )
        )
        conn.execute(
            insert(workspaces).values(
                workspace_id=WORKSPACE,
                domain_id=DOMAIN,
                name="w",
                state="ENABLED",
                tags={},
                created_at=EPOCH,
                updated_at=EPOCH,
            )
        )
    yield store
    store.dispose()


texts = st.text(alphabet=ALPHABET, max_size=3)
rows = st.lists(
    st.tuples(
        st.text(alphabet=ALPHABET, min_size=1, max_size=4),
        st.dictionaries(st.sampled_from(TAG_KEYS), texts, max_size=3),
    ),
    max_size=8,
    unique_by=lambda row: row[0],
)


def _cond(key: str, op: str, value: Any) -> dict[str, Any]:
    return {"k": key, "v": value, "o": op}


query_keys = st.sampled_from(QUERY_KEYS)
value_lists = st.lists(texts | st.none(), max_size=3)
conditions_b = st.one_of(
    st.builds(_cond, query_keys, st.sampled_from(["eq", "not"]), texts | st.none()),
    st.builds(_cond, query_keys, st.sampled_from(["in", "not_in"]), value_lists),
    st.builds(_cond, query_keys, st.sampled_from(["contain", "not_contain", "lt", "gt"]), texts),
    st.builds(_cond, query_keys, st.just("exists"), st.booleans()),
)
sort_keys = st.lists(st.fixed_dictionaries({"key": query_keys, "desc": st.booleans()}), max_size=2)
page_b = st.none() | st.fixed_dictionaries(
    {"start": st.integers(min_value=1, max_value=5)},
    optional={"limit": st.integers(min_value=1, max_value=3)},
)


def _value(record: dict[str, Any], key: str) -> str | None:
    if key == "name":
        return record["name"]
    return record["tags"].get(key.removeprefix("tags."))


def _matches(record: dict[str, Any], cond: dict[str, Any]) -> bool:
    val, op, want = _value(record, cond["k"]), cond["o"], cond["v"]
    if op == "eq":
        return val == want
    if op == "not":
        return val != want
    if op in ("in", "not_in"):
        found = val in [w for w in want if w is not None] or (val is None and None in want)
        return found if op == "in" else not found
    if op in ("contain", "not_contain"):
        found = val is not None and want.lower() in val.lower()
        return found if op == "contain" else not found
    if op == "exists":
        return (val is not None) == want
    if op == "lt":
        return val is not None and val < want
    if op == "gt":
        return val is not None and val > want
    raise AssertionError(op)


def _expected(
    records: list[dict[str, Any]],
    filters: list[dict[str, Any]],
    filters_or: list[dict[str, Any]],
    sort: list[dict[str, Any]],
) -> list[str]:
    picked = [
        r
        for r in records
        if all(_matches(r, c) for c in filters)
        and (not filters_or or any(_matches(r, c) for c in filters_or))
    ]
    picked.sort(key=lambda r: r["project_id"])
    # stable sorts, last key first: nulls first ascending, last descending, ties by id
    for key in reversed(sort):
        picked.sort(
            key=lambda r, k=key["key"]: (_value(r, k) is not None, _value(r, k) or ""),
            reverse=key["desc"],
        )
    return [r["project_id"] for r in picked]


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    data=rows,
    filters=st.lists(conditions_b, max_size=3),
    filters_or=st.lists(conditions_b, max_size=2),
    sort=sort_keys,
    page=page_b,
)
@example(
    data=[("a%", {"env": "a/"}), ("ab", {"env": "A_"}), ("A_b", {}), ("b/", {"k.8s": "%"})],
    filters=[_cond("name", "contain", "%")],
    filters_or=[],
    sort=[],
    page=None,
)
@example(
    data=[("a", {"env": "b"}), ("b", {}), ("B", {"env": ""})],
    filters=[_cond("tags.env", "not_in", ["b"])],
    filters_or=[_cond("tags.env", "not", None), _cond("name", "lt", "a")],
    sort=[{"key": "tags.env", "desc": True}, {"key": "name", "desc": False}],
    page={"start": 2, "limit": 1},
)
def test_compiled_filters_agree_with_a_python_evaluator(
    store, data, filters, filters_or, sort, page
):
    records = [
        {"project_id": f"project-{i:012x}", "name": name, "tags": tags}
        for i, (name, tags) in enumerate(data)
    ]
    raw: dict[str, Any] = {"filter": filters, "filter_or": filters_or, "sort": sort}
    if page is not None:
        raw["page"] = page
    query = parse_query(raw)
    with store.begin() as conn:
        conn.execute(delete(projects))
        if records:
            conn.execute(
                insert(projects),
                [
                    {
                        **r,
                        "domain_id": DOMAIN,
                        "workspace_id": WORKSPACE,
                        "project_type": "PRIVATE",
                        "project_group_id": None,
                        "created_at": EPOCH,
                        "updated_at": EPOCH,
                    }
                    for r in records
                ],
            )
        answer = run_list(conn, projects, FIELDS, query, lambda row: dict(row._mapping))

    expected = _expected(records, filters, filters_or, sort)
    assert answer["total_count"] == len(expected)
    if page is not None:
        start = page["start"] - 1
        expected = expected[start : start + page["limit"]] if "limit" in page else expected[start:]
    assert [r["project_id"] for r in answer["results"]] == expected
    by_id = {r["project_id"]: r for r in records}
    for result in answer["results"]:
        assert result["name"] == by_id[result["project_id"]]["name"]
        assert result["tags"] == by_id[result["project_id"]]["tags"]
