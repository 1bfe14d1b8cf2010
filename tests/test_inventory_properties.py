"""The SQL engine against a small pure-Python evaluator, on random documents and random queries.

The evaluator implements the semantics of `skyatlas.query.jsonpath` (its module docstring) and
the spec: walking `data.<path>`, a list met before the last segment fans out over its object
elements; at the end a list's elements are the candidate values. A condition holds if *some*
candidate satisfies it; `not`, `not_in`, `not_contain` hold when the positive one does not;
`eq null` also holds for a missing field; `in` with `[]` holds for an empty list; `exists` means
present and not null; `match` wants one element (an object) equal on every given key. Values
compare by JSON type (1 == 1.0, 1 != "1", true != 1), strings by code point.

The records are generated once per run (a seeded `random`, plus hand-made edge cases) and
written once per backend with `write_batch`; hypothesis draws only the queries.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from skyatlas.cli.serve import prepare
from skyatlas.config import Settings
from skyatlas.inventory.fields import FIELDS
from skyatlas.inventory.records import to_record
from skyatlas.inventory.service import write_batch
from skyatlas.query.execute import run_list
from skyatlas.query.spaceone import parse_query
from skyatlas.store.tables import cloud_services

SEED = int(os.environ.get("SKYATLAS_PROPERTY_SEED", "20240611"))
KEYS = ["a", "b", "c"]
SCALARS: list[Any] = [0, 1, 2, 2.0, 1.5, -1, "x", "X", "xy", "1", "", True, False, None]
TAG_KEYS = ["Name", "env", "k.8s"]  # a tag key with a dot is one key
TAG_VALUES = ["x", "X", "xy", "", "1"]
N_RANDOM = 150

# Shapes random generation rarely hits: empty and null lists, lists of lists, lists of objects
# with nested lists, objects without the key, mixed-type lists.
EDGE_DOCS: list[dict[str, Any]] = [
    {},
    {"a": []},
    {"a": None},
    {"a": [None]},
    {"a": [[1]]},
    {"a": [[{"b": 1}]]},
    {"a": [{"b": [1, {"c": 2}]}]},
    {"a": {"b": [[{"c": 1}]]}},
    {"a": [{"b": None}, {"b": 1}]},
    {"a": [{}]},
    {"a": 1, "b": {"a": 1}},
    {"a": [1, "1", True, 1.5]},
    {"a": {"b": {"c": []}}},
    {"a": [{"b": "x", "c": 1}, {"b": "X", "c": 2}]},
    {"a": [{"b": [{"c": "xy"}, {"c": None}]}, {"b": {"c": 0}}]},
    {"a": {"b": []}, "b": [], "c": [[]]},
    {"a": False, "b": 0, "c": ""},
    {"a": [{"b": 1}, {}]},
    {"a": [{"b": None}, {}], "b": [{"c": "x"}, {"a": 1}]},
]


# --- the records ---------------------------------------------------------------------------------


def _value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth >= 3 or roll < 0.45:
        return rng.choice(SCALARS)
    if roll < 0.75:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return _object(rng, depth + 1)


def _object(rng: random.Random, depth: int) -> dict[str, Any]:
    return {k: _value(rng, depth) for k in rng.sample(KEYS, rng.randint(0, 3))}


def make_records() -> list[dict[str, Any]]:
    rng = random.Random(SEED)
    docs = EDGE_DOCS + [_object(rng, 0) for _ in range(N_RANDOM)]
    records = []
    for i, doc in enumerate(docs):
        tags = {k: rng.choice(TAG_VALUES) for k in rng.sample(TAG_KEYS, rng.randint(0, 3))}
        records.append(
            {
                "name": f"r{i:03d}",
                "provider": "aws",
                "cloud_service_group": "G",
                "cloud_service_type": "T",
                "data": doc,
                "tags": {"aws": tags} if tags else {},
            }
        )
    return records


RECORDS = make_records()


# --- the evaluator -----------------------------------------------------------------------------

EMPTY = "<empty list>"  # stands for `[]` inside an in / not_in list


def nodes(doc: Any, path: list[str]) -> list[Any]:
    """The values at the path, lists not unwrapped (a list before a segment fans out over its
    object elements)."""
    current = [doc]
    for seg in path:
        following = []
        for node in current:
            for item in node if isinstance(node, list) else [node]:
                if isinstance(item, dict) and seg in item:
                    following.append(item[seg])
        current = following
    return current


def values(doc: Any, path: list[str]) -> list[Any]:
    """The candidates: the nodes with lists unwrapped one level."""
    return [v for n in nodes(doc, path) for v in (n if isinstance(n, list) else [n])]


def same(a: Any, b: Any) -> bool:
    """Equality by JSON type."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(b, int | float):
        return isinstance(a, int | float) and a == b
    if isinstance(b, str):
        return isinstance(a, str) and a == b
    return False


def ordered(a: Any, op: str, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return False  # booleans are not ordered
    if isinstance(b, int | float):
        if not isinstance(a, int | float):
            return False
    elif not (isinstance(b, str) and isinstance(a, str)):
        return False
    return {"lt": a < b, "lte": a <= b, "gt": a > b, "gte": a >= b}[op]


def eq(doc: Any, path: list[str], want: Any) -> bool:
    if want is None:
        present = any(n is not None for n in nodes(doc, path))
        return not present or any(v is None for v in values(doc, path))
    if want == EMPTY:
        return any(n == [] for n in nodes(doc, path))
    return any(same(v, want) for v in values(doc, path))


def data_holds(doc: Any, path: list[str], op: str, want: Any) -> bool:
    if op == "eq":
        return eq(doc, path, want)
    if op == "not":
        return not eq(doc, path, want)
    if op in ("in", "not_in"):
        found = any(eq(doc, path, w) for w in want)
        return found if op == "in" else not found
    if op in ("contain", "not_contain"):
        needle = want.lower()
        found = any(isinstance(v, str) and needle in v.lower() for v in values(doc, path))
        return found if op == "contain" else not found
    if op == "exists":
        return any(n is not None for n in nodes(doc, path)) == want
    if op in ("lt", "lte", "gt", "gte"):
        return any(ordered(v, op, want) for v in values(doc, path))
    if op == "match":
        return any(
            isinstance(v, dict) and all(k in v and same(v[k], w) for k, w in want.items())
            for v in values(doc, path)
        )
    raise AssertionError(op)


def tag_holds(tags: dict[str, str], key: str, op: str, want: Any) -> bool:
    value = tags.get(key)
    if op == "eq":
        return value is None if want is None else value == want
    if op == "not":
        return not tag_holds(tags, key, "eq", want)
    if op == "exists":
        return (value is not None) == want
    raise AssertionError(op)


def holds(record: dict[str, Any], cond: dict[str, Any]) -> bool:
    key, op, want = cond["k"], cond["o"], cond["v"]
    if key.startswith("tags.aws."):
        return tag_holds(record["tags"].get("aws", {}), key.removeprefix("tags.aws."), op, want)
    path = key.removeprefix("data.").split(".")
    if op in ("in", "not_in"):
        want = [EMPTY if w == [] and isinstance(w, list) else w for w in want]
    return data_holds(record["data"], path, op, want)


def expected_names(filters: list[dict[str, Any]], filters_or: list[dict[str, Any]]) -> set[str]:
    return {
        r["name"]
        for r in RECORDS
        if all(holds(r, c) for c in filters)
        and (not filters_or or any(holds(r, c) for c in filters_or))
    }


# --- the queries -------------------------------------------------------------------------------


def _cond(key: str, op: str, value: Any) -> dict[str, Any]:
    return {"k": key, "o": op, "v": value}


data_keys = st.lists(st.sampled_from(KEYS), min_size=1, max_size=3).map(
    lambda p: "data." + ".".join(p)
)
scalars = st.sampled_from(SCALARS)
ordered_scalars = st.sampled_from([s for s in SCALARS if s is not None])
in_lists = st.lists(scalars | st.just([]), max_size=3)
needles = st.sampled_from(["x", "X", "y", "1", "", "xy"])
match_objects = st.dictionaries(st.sampled_from(KEYS), ordered_scalars, min_size=1, max_size=2)
tag_keys = st.sampled_from([f"tags.aws.{k}" for k in TAG_KEYS])

data_conditions = st.one_of(
    st.builds(_cond, data_keys, st.sampled_from(["eq", "not"]), scalars),
    st.builds(_cond, data_keys, st.sampled_from(["in", "not_in"]), in_lists),
    st.builds(_cond, data_keys, st.sampled_from(["contain", "not_contain"]), needles),
    st.builds(_cond, data_keys, st.just("exists"), st.booleans()),
    st.builds(_cond, data_keys, st.sampled_from(["lt", "gt"]), ordered_scalars),
    st.builds(_cond, data_keys, st.just("match"), match_objects),
)
tag_conditions = st.one_of(
    st.builds(
        _cond, tag_keys, st.sampled_from(["eq", "not"]), st.sampled_from(TAG_VALUES) | st.none()
    ),
    st.builds(_cond, tag_keys, st.just("exists"), st.booleans()),
)
conditions = data_conditions | tag_conditions


# --- the stores --------------------------------------------------------------------------------

PG_ADMIN_URL = os.environ.get("SKYATLAS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin_exec(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return base.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{dbname}"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """A store holding RECORDS, written once per backend; yields the runtime's store and
    the records' ids by name."""
    database_url = None
    dbname = None
    if request.param == "postgres":
        template = request.getfixturevalue("pg_template")  # skips locally / fails in CI
        dbname = f"skyatlas_p_{uuid.uuid4().hex[:12]}"
        _admin_exec(f'CREATE DATABASE "{dbname}" TEMPLATE "{template}"')
        database_url = _pg_url(dbname)
    tmp: Path = tmp_path_factory.mktemp(f"props-{request.param}")
    runtime, result = prepare(Settings(data_dir=tmp / "data", database_url=database_url))
    boot = json.loads(result["bootstrap"].path.read_text())
    with runtime.store.begin() as conn:
        written = write_batch(
            conn,
            domain_id=boot["domain_id"],
            workspace_id=boot["workspace_id"],
            bodies=RECORDS,
            upsert=False,
        )
    assert written.created == len(RECORDS)
    try:
        yield runtime.store
    finally:
        runtime.close()
        if dbname:
            _admin_exec(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def _run(store: Any, filters: list[dict[str, Any]], filters_or: list[dict[str, Any]]) -> Any:
    query = parse_query({"filter": filters, "filter_or": filters_or})
    with store.read() as conn:
        return run_list(conn, cloud_services, FIELDS, query, to_record)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    filters=st.lists(conditions, min_size=1, max_size=3),
    filters_or=st.lists(conditions, max_size=2),
)
# `[]` in not_in on a one-segment path: a missing field is "not in [[]]"
@example(filters=[_cond("data.a", "not_in", [[]])], filters_or=[])
# an element without the key adds no candidate: `{"a": [{"b": 1}, {}]}` is not `a.b eq null`
@example(filters=[_cond("data.a.b", "eq", None)], filters_or=[])
@example(filters=[_cond("data.b.c", "not", None)], filters_or=[])
@example(filters=[_cond("data.b", "not_in", ["x", []])], filters_or=[])
# fan-out through a list of objects whose elements hold lists
@example(filters=[_cond("data.a.b.c", "eq", 2)], filters_or=[])
@example(filters=[_cond("data.a.b", "match", {"c": "xy"})], filters_or=[])
# lists inside lists are not unwrapped twice
@example(filters=[_cond("data.a", "eq", 1)], filters_or=[_cond("data.a.b", "exists", True)])
@example(filters=[_cond("data.a", "in", [None, []])], filters_or=[])
@example(filters=[_cond("data.c", "gt", 1.5), _cond("tags.aws.k.8s", "not", None)], filters_or=[])
def test_engine_agrees_with_the_evaluator(loaded, filters, filters_or):
    answer = _run(loaded, filters, filters_or)
    got = {r["name"] for r in answer["results"]}
    want = expected_names(filters, filters_or)
    assert answer["total_count"] == len(answer["results"])
    missing, unexpected = sorted(want - got), sorted(got - want)
    assert got == want, (
        f"filter={filters} filter_or={filters_or}\n"
        f"missing {missing}: {[_doc(n) for n in missing[:3]]}\n"
        f"unexpected {unexpected}: {[_doc(n) for n in unexpected[:3]]}"
    )


def _doc(name: str) -> dict[str, Any]:
    record = RECORDS[int(name[1:])]
    return {"data": record["data"], "tags": record["tags"]}


def test_the_evaluator_knows_the_documented_cases():
    """The evaluator itself, on the cases the spec spells out."""
    sg = {"instances": [{"id": "i-1", "state": "running"}, {"id": "i-2", "state": "stopped"}]}
    assert data_holds(sg, ["instances"], "not_in", [None, EMPTY])
    assert not data_holds({"instances": []}, ["instances"], "not_in", [None, EMPTY])
    assert not data_holds({"instances": None}, ["instances"], "not_in", [None, EMPTY])
    assert not data_holds({}, ["instances"], "not_in", [None, EMPTY])
    assert data_holds(sg, ["instances", "state"], "eq", "stopped")
    assert data_holds(sg, ["instances"], "match", {"id": "i-2", "state": "stopped"})
    assert not data_holds(sg, ["instances"], "match", {"id": "i-1", "state": "stopped"})
    assert data_holds({}, ["x"], "eq", None) and not data_holds({"x": []}, ["x"], "eq", None)
    assert data_holds({"x": [1, 2]}, ["x"], "eq", 2) and not data_holds({"x": 2}, ["x"], "eq", "2")
    assert not data_holds({"x": [[2]]}, ["x"], "eq", 2)
    assert data_holds({"x": 1}, ["x"], "eq", 1.0) and not data_holds({"x": True}, ["x"], "eq", 1)
    assert data_holds({"x": "Hello"}, ["x"], "contain", "ELL")
    assert data_holds({"x": [0]}, ["x"], "exists", True) and data_holds(
        {"x": []}, ["x"], "exists", True
    )
    assert not data_holds({"x": None}, ["x"], "exists", True)
    assert not data_holds({"a": [{"b": 1}, {}]}, ["a", "b"], "eq", None)
    assert data_holds({"a": [{"b": None}, {}]}, ["a", "b"], "eq", None)
