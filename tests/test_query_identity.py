"""The SpaceONE `query` on identity lists and stats: the same answers on SQLite and PostgreSQL.

Most tests run against one fixed set of eight projects (`seeded`) whose `created_at` is pinned to
known days, so every expected answer below is written out by hand.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from skyatlas.store.tables import projects

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
LIST = "/identity/project/list"
STAT = "/identity/project/stat"

#: name, project_type, tags, day of January 2024 it was created on
DATASET: list[tuple[str, str, dict[str, str], int]] = [
    ("web-prod", "PUBLIC", {"env": "prod", "team": "web", "tier": "1"}, 1),
    ("web-dev", "PRIVATE", {"env": "dev", "team": "web"}, 2),
    ("api-prod", "PUBLIC", {"env": "prod", "team": "api", "tier": "2"}, 3),
    ("api-dev", "PRIVATE", {"env": "dev", "team": "api"}, 3),
    ("Batch_Jobs", "PRIVATE", {"env": "prod", "team": "data", "tier": "3"}, 5),
    ("data-lake", "PRIVATE", {"team": "data"}, 6),
    ("50%-off", "PUBLIC", {"env": "stage"}, 7),
    ("zeta", "PRIVATE", {}, 8),
]
ALL = {row[0] for row in DATASET}
PRIVATE = {row[0] for row in DATASET if row[1] == "PRIVATE"}
PUBLIC = ALL - PRIVATE


def _error(response: Any, status: int = 400) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"detail"}
    if status == 400:
        assert body["detail"]["code"] == "ERROR_INVALID_PARAMETER"
    return body["detail"]["message"]


def _set_created(env: Any, project_id: str, when: datetime) -> None:
    with env.runtime.store.begin() as conn:
        conn.execute(
            update(projects).where(projects.c.project_id == project_id).values(created_at=when)
        )


@pytest.fixture
def seeded(env) -> dict[str, dict[str, Any]]:
    """The DATASET as projects of the default workspace; `data-lake` sits in a project group."""
    group = env.ok(
        "/identity/project-group/create", {"name": "analytics", "workspace_id": env.workspace_id}
    )
    env.extra["group_id"] = group["project_group_id"]
    for name, project_type, tags, day in DATASET:
        body = {
            "name": name,
            "project_type": project_type,
            "tags": tags,
            "workspace_id": env.workspace_id,
        }
        if name == "data-lake":
            body["project_group_id"] = group["project_group_id"]
        created = env.ok("/identity/project/create", body)
        _set_created(env, created["project_id"], datetime(2024, 1, day, tzinfo=UTC))
    return {r["name"]: r for r in env.ok(LIST, {})["results"]}


def _names(env: Any, query: dict[str, Any], path: str = LIST, **params: Any) -> list[str]:
    response = env.call(path, {"query": query, **params})
    assert response.status_code == 200, (query, response.text)
    body = response.json()
    assert body["total_count"] == len(body["results"]) or "page" in query, body
    return [r["name"] for r in body["results"]]


def _check_cases(env: Any, cases: list[tuple[Any, set[str]]], key: str = "filter") -> None:
    """Run every case, then report every mismatch at once."""
    failures = []
    for conditions, expected in cases:
        query = conditions if isinstance(conditions, dict) else {key: conditions}
        response = env.call(LIST, {"query": query})
        if response.status_code != 200:
            failures.append(f"{query}: {response.status_code} {response.text}")
            continue
        got = {r["name"] for r in response.json()["results"]}
        if got != expected:
            failures.append(
                f"{query}: expected {sorted(expected)}, got {sorted(got)} "
                f"(missing {sorted(expected - got)}, extra {sorted(got - expected)})"
            )
    assert not failures, "\n".join(failures)


def c(k: str, v: Any, o: str | None = None) -> dict[str, Any]:
    cond = {"k": k, "v": v}
    if o is not None:
        cond["o"] = o
    return cond


# --------------------------------------------------------------------------------------------
# filter operators on real fields


def test_comparison_operators(env, seeded):
    _check_cases(
        env,
        [
            ([c("name", "zeta", "eq")], {"zeta"}),
            ([c("name", "zeta")], {"zeta"}),  # o defaults to eq
            ([c("name", "ZETA")], set()),  # eq is exact
            ([c("tags.env", "prod")], {"web-prod", "api-prod", "Batch_Jobs"}),
            ([c("tags.env", None)], {"data-lake", "zeta"}),  # eq null matches a missing key
            ([c("project_group_id", None)], ALL - {"data-lake"}),
            ([c("tags.env", "prod", "not")], ALL - {"web-prod", "api-prod", "Batch_Jobs"}),
            ([c("tags.env", None, "not")], ALL - {"data-lake", "zeta"}),
            ([c("name", "zeta", "not")], ALL - {"zeta"}),
            ([c("tags.tier", "2", "lt")], {"web-prod"}),
            ([c("tags.tier", "2", "lte")], {"web-prod", "api-prod"}),
            ([c("tags.tier", "1", "gt")], {"api-prod", "Batch_Jobs"}),
            ([c("tags.tier", "3", "gte")], {"Batch_Jobs"}),
            # strings compare by code point, the same on both backends
            ([c("name", "a", "lt")], {"50%-off", "Batch_Jobs"}),
            ([c("name", "b", "gt")], {"data-lake", "web-dev", "web-prod", "zeta"}),
            ([c("name", "web-dev", "gte")], {"web-dev", "web-prod", "zeta"}),
            ([c("name", "api-dev", "lte")], {"50%-off", "Batch_Jobs", "api-dev"}),
        ],
    )


def test_membership_operators(env, seeded):
    _check_cases(
        env,
        [
            ([c("tags.env", ["dev", "stage"], "in")], {"web-dev", "api-dev", "50%-off"}),
            ([c("tags.env", [None, "stage"], "in")], {"data-lake", "zeta", "50%-off"}),
            ([c("tags.env", [None, []], "in")], {"data-lake", "zeta"}),
            ([c("tags.env", [], "in")], set()),
            ([c("name", ["zeta", "nope"], "in")], {"zeta"}),
            (
                [c("tags.env", ["prod"], "not_in")],
                {"web-dev", "api-dev", "data-lake", "50%-off", "zeta"},
            ),
            ([c("tags.env", [None, "prod"], "not_in")], {"web-dev", "api-dev", "50%-off"}),
            ([c("tags.env", [None, []], "not_in")], ALL - {"data-lake", "zeta"}),
            ([c("tags.env", [], "not_in")], ALL),
        ],
    )


def test_substring_and_regex_operators(env, seeded):
    _check_cases(
        env,
        [
            ([c("name", "PROD", "contain")], {"web-prod", "api-prod"}),
            ([c("name", "%", "contain")], {"50%-off"}),  # literal, not a LIKE wildcard
            ([c("name", "_", "contain")], {"Batch_Jobs"}),
            ([c("name", "h_j", "contain")], {"Batch_Jobs"}),
            ([c("name", ".*", "contain")], set()),  # literal, not a regex
            ([c("tags.team", "A", "contain")], {"api-prod", "api-dev", "Batch_Jobs", "data-lake"}),
            ([c("name", "-", "not_contain")], {"Batch_Jobs", "zeta"}),
            # a missing value does not contain anything
            ([c("tags.team", "a", "not_contain")], {"web-prod", "web-dev", "50%-off", "zeta"}),
            ([c("name", ["lake", "ZET"], "contain_in")], {"data-lake", "zeta"}),
            ([c("name", [], "contain_in")], set()),
            (
                [c("name", ["web", "api"], "not_contain_in")],
                {"Batch_Jobs", "data-lake", "50%-off", "zeta"},
            ),
            (
                [c("tags.team", ["web", "api"], "not_contain_in")],
                {"Batch_Jobs", "data-lake", "50%-off", "zeta"},
            ),
            ([c("name", [], "not_contain_in")], ALL),
            ([c("name", "^API-", "regex")], {"api-prod", "api-dev"}),
            ([c("name", "o[bf]", "regex")], {"Batch_Jobs", "50%-off"}),
            (
                [c("name", "^[a-z]+-(prod|dev)$", "regex")],
                {"web-prod", "web-dev", "api-prod", "api-dev"},
            ),
            ([c("name", r"^\d+%", "regex")], {"50%-off"}),
            ([c("tags.env", "^p", "regex")], {"web-prod", "api-prod", "Batch_Jobs"}),
            ([c("name", ["^z", "LAKE$"], "regex_in")], {"zeta", "data-lake"}),
            ([c("name", [], "regex_in")], set()),
        ],
    )


def test_exists(env, seeded):
    _check_cases(
        env,
        [
            ([c("tags.tier", True, "exists")], {"web-prod", "api-prod", "Batch_Jobs"}),
            ([c("tags.tier", False, "exists")], ALL - {"web-prod", "api-prod", "Batch_Jobs"}),
            ([c("project_group_id", True, "exists")], {"data-lake"}),
            ([c("updated_at", True, "exists")], ALL),
            ([c("tags.nosuch", True, "exists")], set()),
        ],
    )


def test_datetime_operators(env, seeded):
    _check_cases(
        env,
        [
            (
                [c("created_at", "2024-01-03", "datetime_gt")],
                {"Batch_Jobs", "data-lake", "50%-off", "zeta"},
            ),
            (
                [c("created_at", "2024-01-03T00:00:00Z", "datetime_gte")],
                {"api-prod", "api-dev", "Batch_Jobs", "data-lake", "50%-off", "zeta"},
            ),
            ([c("created_at", "2024-01-02T00:00:00Z", "datetime_lt")], {"web-prod"}),
            (
                [c("created_at", "2024-01-02T00:00:00.000Z", "datetime_lte")],
                {"web-prod", "web-dev"},
            ),
            # the offset is honoured: 09:00 at +09:00 is midnight UTC
            ([c("created_at", "2024-01-02T09:00:00+09:00", "datetime_lt")], {"web-prod"}),
            ([c("created_at", "2024-01-01T23:00:00-01:00", "datetime_gte")], ALL - {"web-prod"}),
            # plain comparison operators take ISO strings on timestamp fields too
            ([c("created_at", "2024-01-03T00:00:00Z")], {"api-prod", "api-dev"}),
            ([c("created_at", "2024-01-02", "lt")], {"web-prod"}),
            (
                [c("created_at", ["2024-01-01T00:00:00Z", "2024-01-08"], "in")],
                {"web-prod", "zeta"},
            ),
            ([c("created_at", "9999-12-31T00:00:00Z", "datetime_lt")], ALL),
            ([c("created_at", "0001-01-01T00:00:00Z", "datetime_gt")], ALL),
        ],
    )


def test_timediff_operators(env, seeded):
    now = datetime.now(UTC)
    _set_created(env, seeded["zeta"]["project_id"], now - timedelta(hours=1))
    _set_created(env, seeded["data-lake"]["project_id"], now - timedelta(days=3))
    old = ALL - {"zeta", "data-lake"}  # January 2024
    _check_cases(
        env,
        [
            ([c("created_at", "now-1d", "timediff_gt")], {"zeta"}),
            ([c("created_at", "now - 7d", "timediff_gte")], {"zeta", "data-lake"}),
            ([c("created_at", "now-2d", "timediff_lt")], old | {"data-lake"}),
            ([c("created_at", "now/d-2d", "timediff_lte")], old | {"data-lake"}),
            ([c("created_at", "now-90m", "timediff_gt")], {"zeta"}),
            ([c("created_at", "now-7200s", "timediff_gt")], {"zeta"}),
            ([c("created_at", "now-2h", "timediff_gt")], {"zeta"}),
            ([c("created_at", "now-1w", "timediff_gt")], {"zeta", "data-lake"}),
            ([c("created_at", "now", "timediff_lt")], ALL),
            ([c("created_at", "now+1h", "timediff_lte")], ALL),
            ([c("created_at", "now/w-1w", "timediff_gte")], {"zeta", "data-lake"}),
            ([c("created_at", "now/m-30d", "timediff_lt")], old),
        ],
    )


def test_key_value_operator_spellings_are_equivalent(env, seeded):
    expected = {"web-prod", "web-dev"}
    _check_cases(
        env,
        [
            ([{"k": "tags.team", "v": "web", "o": "eq"}], expected),
            ([{"key": "tags.team", "value": "web", "operator": "eq"}], expected),
            ([{"key": "tags.team", "v": "web"}], expected),
            ([{"k": "tags.team", "value": "WE", "operator": "contain"}], expected),
        ],
    )
    for both in ({"k": "name", "key": "name", "v": "x"}, {"k": "name", "v": "x", "value": "x"}):
        _error(env.call(LIST, {"query": {"filter": [both]}}))


def test_filter_is_and_filter_or_is_or_and_they_combine_with_and(env, seeded):
    _check_cases(
        env,
        [
            (
                {"filter": [c("project_type", "PUBLIC"), c("tags.env", "prod")]},
                {"web-prod", "api-prod"},
            ),
            ({"filter": [c("project_type", "PUBLIC"), c("tags.env", "dev")]}, set()),
            (
                {"filter_or": [c("name", "zeta"), c("tags.tier", True, "exists")]},
                {"zeta", "web-prod", "api-prod", "Batch_Jobs"},
            ),
            (
                {
                    "filter": [c("project_type", "PRIVATE")],
                    "filter_or": [c("name", "zeta"), c("tags.tier", True, "exists")],
                },
                {"zeta", "Batch_Jobs"},
            ),
            (
                {
                    "filter": [c("project_type", "PRIVATE"), c("tags.team", "a", "contain")],
                    "filter_or": [c("tags.env", "prod"), c("tags.env", None)],
                },
                {"Batch_Jobs", "data-lake"},
            ),
            ({"filter": [], "filter_or": []}, ALL),
            ({"filter_or": [c("name", "nope")]}, set()),
        ],
    )


def test_top_level_params_and_query_combine(env, seeded):
    assert set(_names(env, {"filter": [c("tags.env", "prod")]}, project_type="PUBLIC")) == {
        "web-prod",
        "api-prod",
    }
    group_id = env.extra["group_id"]
    assert _names(env, {}, project_group_id=group_id) == ["data-lake"]
    ids = [seeded["zeta"]["project_id"], seeded["web-dev"]["project_id"]]
    assert set(_names(env, {"filter": [c("tags.env", None, "not")]}, project_id=ids)) == {"web-dev"}


# --------------------------------------------------------------------------------------------
# wrong values: 400 naming the condition

BAD_CONDITIONS: list[tuple[dict[str, Any], list[str]]] = [
    (c("name", 5, "contain"), ["name", "contain", "string"]),
    (c("name", "abc", "in"), ["name", "in", "list"]),
    (c("name", [["x"]], "in"), ["name", "in"]),
    (c("name", "abc", "not_in"), ["not_in", "list"]),
    (c("created_at", "yesterday", "datetime_gt"), ["created_at", "datetime_gt", "yesterday"]),
    (c("created_at", 5, "datetime_lt"), ["created_at", "datetime_lt"]),
    (c("created_at", "tomorrow", "timediff_lt"), ["created_at", "timediff_lt", "tomorrow"]),
    (c("created_at", "now-7y", "timediff_lt"), ["now-7y"]),
    (c("name", "x", "bogus_op"), ["bogus_op"]),
    (c("name", "x", "EQ"), ["EQ"]),
    (c("nosuch", "x"), ["nosuch"]),
    (c("tags", "x"), ["tags"]),
    (c("tags.", "x"), ["tags."]),
    (c("name", "yes", "exists"), ["name", "exists"]),
    (c("name", "abc", "regex_in"), ["regex_in"]),
    (c("name", [1], "contain_in"), ["contain_in"]),
    (c("name", ["ok", 2], "not_contain_in"), ["not_contain_in"]),
    (c("name", [1], "lt"), ["name", "lt"]),
    (c("name", 5), ["name"]),  # name holds strings
    (c("tags.env", True), ["tags.env"]),
    (c("created_at", "x", "contain"), ["created_at", "contain"]),  # not a string field
    (c("name", "2024-01-01", "datetime_gt"), ["name", "datetime_gt"]),
    (c("name", "now", "timediff_gt"), ["name", "timediff_gt"]),
    (c("created_at", "not-a-date"), ["created_at"]),
    (c("created_at", 5, "gt"), ["created_at"]),
    (c("name", "[", "regex"), ["name", "regex"]),
    (c("name", ["ok", "("], "regex_in"), ["regex_in"]),
    (c("name", {"a": 1}, "match"), ["name", "match"]),
    ({"k": "name"}, ["name", "value"]),
    ({"v": "x"}, ["key"]),
    ({"k": 5, "v": "x"}, ["key"]),
    ({"k": "name", "v": "x", "x": 1}, ["x"]),
]


def test_wrong_values_are_400_naming_the_condition(env, seeded):
    failures = []
    for cond, needles in BAD_CONDITIONS:
        for group in ("filter", "filter_or"):
            query = {group: [c("name", "zeta"), cond]}
            response = env.call(LIST, {"query": query})
            if response.status_code != 400:
                failures.append(f"{query}: {response.status_code} {response.text}")
                continue
            message = response.json()["detail"]["message"]
            wanted = [f"query.{group}[1]", *needles]
            missing = [n for n in wanted if n not in message]
            if missing:
                failures.append(f"{query}: message lacks {missing}: {message}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ({"filter": {"k": "name", "v": "x"}}, "query.filter"),
        ({"filter": ["name"]}, "query.filter[0]"),
        ({"sort": [{"key": "nosuch"}]}, "nosuch"),
        ({"sort": [{"key": "name", "desc": "yes"}]}, "desc"),
        ({"sort": "name"}, "query.sort"),
        ({"page": {"start": 0}}, "start"),
        ({"page": {"start": 1, "limit": 0}}, "limit"),
        ({"page": {"limit": 10001}}, "limit"),
        ({"page": {"start": "1"}}, "start"),
        ({"only": "name"}, "only"),
        ({"only": [""]}, "only"),
        ({"keyword": 5}, "keyword"),
        ({"count_only": "yes"}, "count_only"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_malformed_query_is_400(env, query, needle):
    assert needle in _error(env.call(LIST, {"query": query}))


def test_bad_query_on_every_identity_list_is_400(env):
    bad = {"query": {"filter": [c("name", 5, "contain")]}}
    for resource in ("workspace", "project-group", "project", "role", "service-account", "app"):
        message = _error(env.call(f"/identity/{resource}/list", bad))
        assert "query.filter[0]" in message, resource


# --------------------------------------------------------------------------------------------
# sort and page

SORTED_BY_NAME = sorted(ALL)  # code-point order: digits, upper case, lower case


def test_sort_single_and_multi_key(env, seeded):
    assert _names(env, {"sort": [{"key": "name"}]}) == SORTED_BY_NAME
    # a single {key, desc} object is accepted too
    assert _names(env, {"sort": {"key": "name", "desc": True}}) == SORTED_BY_NAME[::-1]
    assert _names(env, {"sort": [{"key": "project_type"}, {"key": "name", "desc": True}]}) == [
        "zeta",
        "web-dev",
        "data-lake",
        "api-dev",
        "Batch_Jobs",
        "web-prod",
        "api-prod",
        "50%-off",
    ]
    # nulls first ascending, last descending; then the second key
    assert _names(env, {"sort": [{"key": "tags.env", "desc": True}, {"key": "created_at"}]}) == [
        "50%-off",
        "web-prod",
        "api-prod",
        "Batch_Jobs",
        "web-dev",
        "api-dev",
        "data-lake",
        "zeta",
    ]
    by_env = _names(env, {"sort": [{"key": "tags.env"}, {"key": "name"}]})
    assert by_env == [
        "data-lake",
        "zeta",
        "api-dev",
        "web-dev",
        "Batch_Jobs",
        "api-prod",
        "web-prod",
        "50%-off",
    ]
    assert _names(env, {"sort": [{"key": "created_at", "desc": True}], "page": {"limit": 2}}) == [
        "zeta",
        "50%-off",
    ]


def test_sort_ties_are_broken_by_id(env, seeded):
    for sort in ([{"key": "project_type"}], [{"key": "project_type", "desc": True}]):
        results = env.ok(LIST, {"query": {"sort": sort}})["results"]
        types = [r["project_type"] for r in results]
        assert types == sorted(types, reverse=sort[0].get("desc", False))
        for kind in ("PUBLIC", "PRIVATE"):
            ids = [r["project_id"] for r in results if r["project_type"] == kind]
            assert ids == sorted(ids), (sort, kind)
    # api-prod and api-dev share a creation time
    ties = [
        r["project_id"]
        for r in env.ok(LIST, {"query": {"sort": [{"key": "created_at"}]}})["results"]
        if r["name"] in ("api-prod", "api-dev")
    ]
    assert ties == sorted(ties)
    # no sort at all: id order
    ids = [r["project_id"] for r in env.ok(LIST, {})["results"]]
    assert ids == sorted(ids)


PAGING_SORTS: list[list[dict[str, Any]]] = [
    [],
    [{"key": "name"}],
    [{"key": "project_type"}],
    [{"key": "project_type", "desc": True}],
    [{"key": "tags.env"}],
    [{"key": "tags.env", "desc": True}, {"key": "tags.team"}],
    [{"key": "created_at"}],
    [{"key": "tags.tier", "desc": True}, {"key": "project_type", "desc": True}],
]


def test_walking_every_page_never_repeats_or_skips(env, seeded):
    for filters, expected_total in (([], 8), ([c("tags.team", True, "exists")], 6)):
        for sort in PAGING_SORTS:
            whole = env.ok(LIST, {"query": {"filter": filters, "sort": sort}})
            assert whole["total_count"] == expected_total
            whole_ids = [r["project_id"] for r in whole["results"]]
            for limit in (1, 2, 3):
                walked: list[str] = []
                start = 1
                while True:
                    page = env.ok(
                        LIST,
                        {
                            "query": {
                                "filter": filters,
                                "sort": sort,
                                "page": {"start": start, "limit": limit},
                            }
                        },
                    )
                    assert page["total_count"] == expected_total, (sort, limit, start)
                    assert len(page["results"]) <= limit
                    if not page["results"]:
                        break
                    walked.extend(r["project_id"] for r in page["results"])
                    start += limit
                assert walked == whole_ids, (filters, sort, limit)
                assert len(set(walked)) == expected_total


def test_page_start_is_one_based_and_may_run_past_the_end(env, seeded):
    names = SORTED_BY_NAME
    sort = [{"key": "name"}]
    assert _names(env, {"sort": sort, "page": {"start": 1, "limit": 2}}) == names[:2]
    assert _names(env, {"sort": sort, "page": {"start": 2, "limit": 2}}) == names[1:3]
    assert _names(env, {"sort": sort, "page": {"start": 7}}) == names[6:]
    assert _names(env, {"sort": sort, "page": {"limit": 3}}) == names[:3]
    past = env.ok(LIST, {"query": {"page": {"start": 100, "limit": 5}}})
    assert past == {"results": [], "total_count": 8}


def test_count_only(env, seeded):
    body = env.ok(LIST, {"query": {"count_only": True, "filter": [c("tags.env", "prod")]}})
    assert body == {"results": [], "total_count": 3}
    body = env.ok(LIST, {"query": {"count_only": True, "page": {"start": 1, "limit": 1}}})
    assert body == {"results": [], "total_count": 8}
    body = env.ok(LIST, {"query": {"count_only": False, "filter": [c("name", "zeta")]}})
    assert body["total_count"] == 1 and len(body["results"]) == 1


def test_only_keeps_the_nesting(env, seeded):
    results = env.ok(LIST, {"query": {"only": ["name", "tags.env"], "sort": [{"key": "name"}]}})[
        "results"
    ]
    by_name = {r["name"]: r for r in results}
    assert by_name["web-prod"] == {"name": "web-prod", "tags": {"env": "prod"}}
    assert by_name["zeta"] == {"name": "zeta"}
    assert by_name["data-lake"] == {"name": "data-lake"}
    assert [r["name"] for r in results] == SORTED_BY_NAME
    both = env.ok(
        LIST, {"query": {"only": ["tags.env", "tags.team"], "filter": [c("name", "web-dev")]}}
    )["results"]
    assert both == [{"tags": {"env": "dev", "team": "web"}}]
    whole = env.ok(LIST, {"query": {"only": ["tags", "project_id"], "filter": [c("name", "zeta")]}})
    assert whole["results"] == [{"tags": {}, "project_id": seeded["zeta"]["project_id"]}]


def test_keyword(env, seeded):
    _check_cases(
        env,
        [
            ({"keyword": "PROD"}, {"web-prod", "api-prod"}),
            ({"keyword": "web prod"}, {"web-prod"}),  # tokens AND together
            ({"keyword": "  api   dev "}, {"api-dev"}),
            ({"keyword": "%"}, {"50%-off"}),
            ({"keyword": "nothing-like-this"}, set()),
            ({"keyword": "   "}, ALL),
            ({"keyword": seeded["zeta"]["project_id"]}, {"zeta"}),  # the id is a keyword field
            ({"keyword": "project-"}, ALL),
            # keyword is its own group, ANDed with filter and filter_or
            (
                {"keyword": "web", "filter_or": [c("name", "zeta"), c("name", "web-dev")]},
                {"web-dev"},
            ),
            # (hex ids contain a-f, so tokens here avoid matching every id)
            ({"keyword": "pi", "filter": [c("project_type", "PUBLIC")]}, {"api-prod"}),
        ],
    )


# --------------------------------------------------------------------------------------------
# other identity resources answer the same query language


def test_query_on_other_identity_lists(env):
    top = env.ok(
        "/identity/project-group/create", {"name": "top", "workspace_id": env.workspace_id}
    )
    env.ok(
        "/identity/project-group/create",
        {
            "name": "child",
            "workspace_id": env.workspace_id,
            "parent_group_id": top["project_group_id"],
        },
    )
    groups = env.ok(
        "/identity/project-group/list", {"query": {"filter": [c("parent_group_id", None)]}}
    )
    assert [g["name"] for g in groups["results"]] == ["top"]
    env.ok("/identity/workspace/create", {"name": "Team-X", "tags": {"cost": "cc-1"}})
    workspaces = env.ok(
        "/identity/workspace/list",
        {"query": {"filter": [c("tags.cost", "CC", "contain")], "only": ["name"]}},
    )
    assert workspaces["results"] == [{"name": "Team-X"}]
    roles = env.ok("/identity/role/list", {"query": {"filter": [c("is_managed", True)]}})
    assert roles["total_count"] == 3
    roles = env.ok("/identity/role/list", {"query": {"filter": [c("is_managed", False)]}})
    assert roles["total_count"] == 0
    _error(env.call("/identity/role/list", {"query": {"filter": [c("is_managed", "yes")]}}))
    roles = env.ok(
        "/identity/role/list",
        {
            "query": {
                "filter": [c("role_type", "WORKSPACE", "contain")],
                "sort": [{"key": "role_id"}],
            }
        },
    )
    assert [r["role_id"] for r in roles["results"]] == [
        "managed-workspace-member",
        "managed-workspace-owner",
    ]


# --------------------------------------------------------------------------------------------
# stat


def _stat(env: Any, query: dict[str, Any]) -> dict[str, Any]:
    return env.ok(STAT, {"query": query})


def _group(keys: list[tuple[str, str]], fields: list[dict[str, Any]]) -> dict[str, Any]:
    return {"group": {"keys": [{"key": k, "name": n} for k, n in keys], "fields": fields}}


COUNT = {"name": "n", "operator": "count"}


def test_stat_distinct(env, seeded):
    assert _stat(env, {"distinct": "tags.env"}) == {
        "results": ["dev", "prod", "stage"],
        "total_count": 3,
    }
    public = _stat(env, {"distinct": "name", "filter": [c("project_type", "PUBLIC")]})
    assert public == {"results": ["50%-off", "api-prod", "web-prod"], "total_count": 3}
    assert _stat(env, {"distinct": "name"})["results"] == SORTED_BY_NAME
    paged = _stat(env, {"distinct": "tags.env", "page": {"start": 2, "limit": 1}})
    assert paged == {"results": ["prod"], "total_count": 3}
    assert _stat(env, {"distinct": "project_group_id"})["results"] == [env.extra["group_id"]]
    assert _stat(env, {"distinct": "tags.nosuch"}) == {"results": [], "total_count": 0}
    either = _stat(
        env,
        {"distinct": "tags.team", "filter_or": [c("name", "zeta"), c("tags.tier", "1")]},
    )
    assert either == {"results": ["web"], "total_count": 1}
    assert _stat(env, {"distinct": "project_type", "keyword": "api"})["results"] == [
        "PRIVATE",
        "PUBLIC",
    ]


def test_stat_group_count(env, seeded):
    rows = _stat(env, {"aggregate": [_group([("tags.env", "env")], [COUNT])]})
    assert rows["total_count"] == 4
    assert sorted(rows["results"], key=lambda r: str(r["env"])) == [
        {"env": None, "n": 2},
        {"env": "dev", "n": 2},
        {"env": "prod", "n": 3},
        {"env": "stage", "n": 1},
    ]
    two_keys = _stat(
        env,
        {
            "filter": [c("tags.env", True, "exists")],
            "aggregate": [_group([("project_type", "type"), ("tags.env", "env")], [COUNT])],
        },
    )
    assert sorted((r["type"], r["env"], r["n"]) for r in two_keys["results"]) == [
        ("PRIVATE", "dev", 2),
        ("PRIVATE", "prod", 1),
        ("PUBLIC", "prod", 2),
        ("PUBLIC", "stage", 1),
    ]
    # fields only: one row over everything that matches
    assert _stat(env, {"aggregate": [{"group": {"fields": [COUNT]}}]})["results"] == [{"n": 8}]


def test_stat_group_min_max_push_add_to_set(env, seeded):
    fields = [
        COUNT,
        {"key": "name", "name": "first_name", "operator": "min"},
        {"key": "name", "name": "last_name", "operator": "max"},
        {"key": "name", "name": "names", "operator": "push"},
        {"key": "tags.team", "name": "teams", "operator": "add_to_set"},
        {"key": "tags.env", "name": "envs", "operator": "push"},
    ]
    rows = _stat(env, {"aggregate": [_group([("project_type", "type")], fields)]})["results"]
    by_type = {r["type"]: r for r in rows}
    assert set(by_type) == {"PRIVATE", "PUBLIC"}
    private, public = by_type["PRIVATE"], by_type["PUBLIC"]
    assert private["n"] == 5 and public["n"] == 3
    assert (private["first_name"], private["last_name"]) == ("Batch_Jobs", "zeta")
    assert (public["first_name"], public["last_name"]) == ("50%-off", "web-prod")
    assert sorted(private["names"]) == sorted(PRIVATE)
    assert sorted(public["names"]) == sorted(PUBLIC)
    # add_to_set keeps each value once; missing values are left out of both
    assert sorted(private["teams"]) == ["api", "data", "web"]
    assert sorted(public["teams"]) == ["api", "web"]
    assert sorted(private["envs"]) == ["dev", "dev", "prod"]
    assert sorted(public["envs"]) == ["prod", "prod", "stage"]


def test_stat_sort_limit_skip_count_project_match_stages(env, seeded):
    group = _group([("tags.env", "env")], [COUNT])
    top = _stat(env, {"aggregate": [group, {"sort": [{"key": "n", "desc": True}]}, {"limit": 1}]})
    assert top == {"results": [{"env": "prod", "n": 3}], "total_count": 1}
    ordered = _stat(
        env, {"aggregate": [group, {"sort": [{"key": "n"}, {"key": "env", "desc": True}]}]}
    )
    assert ordered["results"] == [
        {"env": "stage", "n": 1},
        {"env": "dev", "n": 2},
        {"env": None, "n": 2},
        {"env": "prod", "n": 3},
    ]
    # a sort stage may also be written {"keys": [...]}
    by_keys = _stat(env, {"aggregate": [group, {"sort": {"keys": [{"key": "n", "desc": True}]}}]})
    assert by_keys["results"][0] == {"env": "prod", "n": 3}
    skipped = _stat(env, {"aggregate": [group, {"sort": [{"key": "env"}]}, {"skip": 2}]})
    assert skipped["results"] == [{"env": "prod", "n": 3}, {"env": "stage", "n": 1}]
    counted = _stat(env, {"aggregate": [group, {"count": {"name": "groups"}}]})
    assert counted == {"results": [{"groups": 4}], "total_count": 1}
    default_name = _stat(env, {"aggregate": [group, {"count": {}}]})
    assert default_name["results"] == [{"total_count": 4}]
    only_count = _stat(
        env, {"filter": [c("project_type", "PUBLIC")], "aggregate": [{"count": {"name": "n"}}]}
    )
    assert only_count["results"] == [{"n": 3}]
    projected = _stat(
        env,
        {
            "aggregate": [
                group,
                {"sort": [{"key": "n", "desc": True}]},
                {"project": {"fields": [{"key": "n", "name": "how_many"}, {"key": "env"}]}},
                {"limit": 2},
            ]
        },
    )
    assert projected["results"] == [
        {"how_many": 3, "env": "prod"},
        {"how_many": 2, "env": None},
    ] or (projected["results"] == [{"how_many": 3, "env": "prod"}, {"how_many": 2, "env": "dev"}])
    matched = _stat(
        env,
        {"aggregate": [{"match": {"filter": [c("project_type", "PUBLIC")]}}, group]},
    )
    assert sorted(matched["results"], key=lambda r: r["env"]) == [
        {"env": "prod", "n": 2},
        {"env": "stage", "n": 1},
    ]
    paged = _stat(
        env,
        {
            "aggregate": [group, {"sort": [{"key": "n", "desc": True}]}],
            "page": {"start": 1, "limit": 2},
        },
    )
    assert paged["total_count"] == 4
    assert [r["n"] for r in paged["results"]] == [3, 2]


def test_stat_group_by_date_format(env, seeded):
    rows = _stat(
        env,
        {
            "aggregate": [
                {
                    "group": {
                        "keys": [{"key": "created_at", "name": "day", "date_format": "%Y-%m-%d"}],
                        "fields": [COUNT],
                    }
                },
                {"sort": [{"key": "day"}]},
            ]
        },
    )["results"]
    assert rows == [
        {"day": "2024-01-01", "n": 1},
        {"day": "2024-01-02", "n": 1},
        {"day": "2024-01-03", "n": 2},
        {"day": "2024-01-05", "n": 1},
        {"day": "2024-01-06", "n": 1},
        {"day": "2024-01-07", "n": 1},
        {"day": "2024-01-08", "n": 1},
    ]
    month = _stat(
        env,
        {
            "aggregate": [
                {
                    "group": {
                        "keys": [{"key": "created_at", "name": "m", "date_format": "%Y-%m"}],
                        "fields": [COUNT],
                    }
                }
            ]
        },
    )
    assert month["results"] == [{"m": "2024-01", "n": 8}]


def _group_with(field: dict[str, Any]) -> dict[str, Any]:
    return _group([("project_type", "type")], [field])


INVALID_STAT_QUERIES: list[tuple[dict[str, Any], str]] = [
    ({"aggregate": []}, "aggregate"),
    ({"aggregate": [{"bogus": {}}]}, "bogus"),
    ({"aggregate": [{"group": {"fields": [COUNT]}, "sort": [{"key": "n"}]}]}, "aggregate[0]"),
    ({"aggregate": [{"group": {"keys": [], "fields": []}}]}, "group"),
    ({"aggregate": [{"group": {"fields": [COUNT], "extra": 1}}]}, "extra"),
    ({"aggregate": [_group_with({"key": "name", "name": "x", "operator": "median"})]}, "operator"),
    ({"aggregate": [_group_with({"key": "name", "name": "x", "operator": "sum"})]}, "sum"),
    ({"aggregate": [_group_with({"key": "name", "name": "x", "operator": "average"})]}, "average"),
    ({"aggregate": [_group_with({"key": "nosuch", "name": "x", "operator": "max"})]}, "nosuch"),
    ({"aggregate": [_group_with({"key": "name", "operator": "max"})]}, "name"),
    ({"aggregate": [_group_with({"key": "name", "name": "type", "operator": "max"})]}, "unique"),
    ({"aggregate": [_group([("nosuch", "x")], [COUNT])]}, "nosuch"),
    ({"aggregate": [{"sort": [{"key": "n"}]}]}, "group"),
    ({"aggregate": [{"limit": 1}]}, "group"),
    ({"aggregate": [_group_with(COUNT), {"sort": [{"key": "nosuch"}]}]}, "nosuch"),
    ({"aggregate": [_group_with(COUNT), {"unwind": {"path": "tags"}}]}, "unwind"),
    ({"aggregate": [_group_with(COUNT), {"limit": 0}]}, "limit"),
    ({"aggregate": [_group_with(COUNT), {"limit": "2"}]}, "limit"),
    ({"aggregate": [_group_with(COUNT), {"skip": -1}]}, "skip"),
    ({"aggregate": [_group_with(COUNT), {"group": {"fields": [COUNT]}}]}, "group"),
    (
        {"aggregate": [{"group": {"keys": [{"key": "name", "name": "d", "date_format": "%Y"}]}}]},
        "date_format",
    ),
    (
        {
            "aggregate": [
                {"group": {"keys": [{"key": "created_at", "name": "d", "date_format": "%A"}]}}
            ]
        },
        "date_format",
    ),
    ({"distinct": "name", "aggregate": [_group_with(COUNT)]}, "distinct"),
    ({}, "distinct"),
    ({"distinct": "nosuch"}, "nosuch"),
    ({"distinct": ""}, "distinct"),
    ({"distinct": "name", "sort": [{"key": "name"}]}, "sort"),
    ({"distinct": "name", "filter": [c("name", 1, "contain")]}, "query.filter[0]"),
    ({"distinct": "name", "page": {"start": 0}}, "start"),
]


def test_invalid_stat_queries_are_400(env, seeded):
    failures = []
    for query, needle in INVALID_STAT_QUERIES:
        response = env.call(STAT, {"query": query})
        if response.status_code != 400:
            failures.append(f"{query}: {response.status_code} {response.text}")
        elif needle not in response.json()["detail"]["message"]:
            failures.append(f"{query}: message lacks {needle!r}: {response.text}")
    assert not failures, "\n".join(failures)
    _error(env.call(STAT, {}))  # query is required


# --------------------------------------------------------------------------------------------
# bad input that reaches the database must still be a 400, never a 500


def test_filter_values_with_nul_are_400(env, seeded):
    """PostgreSQL cannot take a NUL in a text parameter; the answer must not depend on that."""
    queries = [
        {"filter": [c("name", "a\x00", "eq")]},
        {"filter": [c("name", "a\x00", "not")]},
        {"filter": [c("name", "a\x00", "contain")]},
        {"filter": [c("name", ["ok", "a\x00"], "in")]},
        {"filter": [c("tags.env", "a\x00", "lt")]},
        {"filter": [c("name", "a\x00", "regex")]},
        {"filter_or": [c("name", ["a\x00"], "contain_in")]},
        {"filter": [c("name", "x", "eq")], "keyword": "a\x00"},
    ]
    failures = []
    for query in queries:
        response = env.call(LIST, {"query": query})
        if response.status_code != 400:
            failures.append(f"{query!r}: {response.status_code} {response.text}")
    response = env.call(STAT, {"query": {"distinct": "name", "filter": [c("name", "\x00")]}})
    if response.status_code != 400:
        failures.append(f"stat: {response.status_code} {response.text}")
    assert not failures, "\n".join(failures)


def test_wrong_values_whose_text_has_braces_are_400(env, seeded):
    """The 400 message quotes the condition; braces in it must not break the message."""
    for cond in (
        c("name", {"a": 1}),  # an object where a scalar belongs
        c("name", "{x}", "in"),  # a string where a list belongs
        c("name", ["{0}"], "lt"),
        {"k": "tags.{x}", "v": 5, "o": "contain"},
        c("created_at", "{now}", "datetime_gt"),
    ):
        response = env.call(LIST, {"query": {"filter": [cond]}})
        assert "query.filter[0]" in _error(response), cond


def test_datetimes_outside_the_representable_range_are_400(env, seeded):
    """`9999-12-31T23:59:59-01:00` is year 10000 in UTC: a bad value, not a server error."""
    for value in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"):
        for cond in (
            c("created_at", value, "datetime_gt"),
            c("created_at", value, "eq"),
            c("created_at", [value], "in"),
        ):
            response = env.call(LIST, {"query": {"filter": [cond]}})
            assert "created_at" in _error(response), cond


def test_regex_the_database_cannot_run_is_not_a_500(env, seeded):
    """Patterns Python accepts but the database may not: 400 or the right answer, never 500."""
    cases = {
        "(?P<x>web)": {"web-prod", "web-dev"},  # Python's named group
        "a{99999}": set(),  # a repetition count PostgreSQL refuses
        "a{4294967296}": set(),  # a repetition count Python refuses
        "(?i)ZETA": {"zeta"},
        r"\Aweb": {"web-prod", "web-dev"},
    }
    failures = []
    for pattern, expected in cases.items():
        response = env.call(LIST, {"query": {"filter": [c("name", pattern, "regex")]}})
        if response.status_code == 200:
            got = {r["name"] for r in response.json()["results"]}
            if got != expected:
                failures.append(f"{pattern!r}: expected {sorted(expected)}, got {sorted(got)}")
        elif response.status_code == 400:
            if pattern not in response.json()["detail"]["message"]:
                failures.append(f"{pattern!r}: 400 does not name the pattern: {response.text}")
        else:
            failures.append(f"{pattern!r}: {response.status_code} {response.text}")
    assert not failures, "\n".join(failures)


# --------------------------------------------------------------------------------------------
# answers the spec pins down that differ by backend or drop data


def test_contain_and_regex_are_case_insensitive_beyond_ascii(env):
    for name in ("Élan", "ÖKO-Strom", "straße"):
        env.ok("/identity/project/create", {"name": name, "workspace_id": env.workspace_id})
    _check_cases(
        env,
        [
            ([c("name", "élan", "contain")], {"Élan"}),
            ([c("name", "öko", "contain")], {"ÖKO-Strom"}),
            ([c("name", "STRAßE", "contain")], {"straße"}),
            ([c("name", "^élan$", "regex")], {"Élan"}),
            ([c("name", ["ÉLAN"], "contain_in")], {"Élan"}),
            ({"keyword": "élan"}, {"Élan"}),
        ],
    )


def test_only_keeps_tag_keys_that_contain_dots(env):
    """Tag keys may contain dots (`app.kubernetes.io/name`): filters reach them, so must `only`."""
    env.ok(
        "/identity/project/create",
        {
            "name": "k8s",
            "workspace_id": env.workspace_id,
            "tags": {"app.kubernetes.io/name": "web", "env": "prod"},
        },
    )
    key = "tags.app.kubernetes.io/name"
    found = env.ok(LIST, {"query": {"filter": [c(key, "web")], "only": ["name", key]}})
    assert found["total_count"] == 1
    assert found["results"] == [{"name": "k8s", "tags": {"app.kubernetes.io/name": "web"}}]


def test_stat_timestamps_use_the_api_format(env, seeded):
    """Every timestamp the API shows is ISO 8601 UTC with milliseconds and `Z`."""
    distinct = _stat(env, {"distinct": "created_at"})["results"]
    assert distinct[0] == seeded["web-prod"]["created_at"] == "2024-01-01T00:00:00.000Z"
    assert all(TIMESTAMP.fullmatch(v) for v in distinct), distinct
    rows = _stat(
        env,
        {
            "aggregate": [
                _group(
                    [("project_type", "type")],
                    [
                        {"key": "created_at", "name": "first", "operator": "min"},
                        {"key": "created_at", "name": "last", "operator": "max"},
                    ],
                )
            ]
        },
    )["results"]
    by_type = {r["type"]: r for r in rows}
    assert by_type["PUBLIC"]["first"] == "2024-01-01T00:00:00.000Z"
    assert by_type["PRIVATE"]["last"] == "2024-01-08T00:00:00.000Z"
