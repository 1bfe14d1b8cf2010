"""The OpenAPI document is a contract: schemathesis generates requests for every identity and
inventory verb from `/openapi.json` and checks each answer against it (no 5xx, documented status,
documented content type, body matching the response schema). A hypothesis fuzz then throws
arbitrary JSON at every verb: whatever the body, the answer is never a 5xx.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from skyatlas.api.app import build_registry, create_app
from skyatlas.cli.serve import prepare
from skyatlas.config import Settings
from skyatlas.explorer.routes import OPERATIONS as EXPLORER_OPERATIONS
from skyatlas.identity.roles import MANAGED_ROLE_IDS, RoleType
from skyatlas.query.model import GROUP_OPERATORS, OPERATORS

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
VERBS = [verb for verb in build_registry() if verb.service in ("identity", "inventory")]
VERB_PATHS = [verb.path for verb in VERBS]
FIELDS_OF = {verb.path: sorted(verb.request.model_fields) for verb in VERBS}
REQUIRED_OF = {
    verb.path: sorted(k for k, f in verb.request.model_fields.items() if f.is_required())
    for verb in VERBS
}
SCHEMATHESIS_EXAMPLES = 30
FUZZ_EXAMPLES = 400
PG_ADMIN_URL = os.environ.get("SKYATLAS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
_STAT_FIELDS = st.sampled_from(["name", "created_at", "workspace_id", "tags.env", "state"])
STAT_QUERIES = st.one_of(
    st.builds(lambda key: {"distinct": key}, _STAT_FIELDS),
    st.builds(
        lambda key: {
            "aggregate": [
                {
                    "group": {
                        "keys": [{"key": key, "name": "k"}],
                        "fields": [{"name": "n", "operator": "count"}],
                    }
                }
            ]
        },
        _STAT_FIELDS,
    ),
)
PERMISSIONS = st.lists(
    st.sampled_from(
        ["identity:Project.read", "identity:", "inventory:CloudService.*", "identity:App.write"]
    ),
    min_size=1,
    max_size=3,
)


@dataclass
class Api:
    app: Any
    client: TestClient
    token: str
    domain_id: str
    schema: Any

    def ok(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(
            path, json=body, headers={"Authorization": f"Bearer {self.token}"}
        )
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()


def _open_api(settings: Settings) -> tuple[Api, Any]:
    runtime, result = prepare(settings)
    boot = json.loads(Path(result["bootstrap"].path).read_text())
    app = create_app(runtime)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    client = TestClient(app, raise_server_exceptions=False)
    return Api(app, client, boot["client_secret"], boot["domain_id"], schema), runtime


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One in-process server on SQLite for the whole module, built like conftest's envs."""
    opened, runtime = _open_api(Settings(data_dir=tmp_path_factory.mktemp("schemathesis") / "data"))
    with opened.client:
        yield opened
    runtime.close()


@pytest.fixture(scope="module")
def pg_api(tmp_path_factory: pytest.TempPathFactory, pg_template: str) -> Iterator[Api]:
    """The same on a fresh PostgreSQL database (NUL characters, huge integers and JSONB are
    where the two stores differ)."""
    name = f"skyatlas_st_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        opened, runtime = _open_api(
            Settings(
                data_dir=tmp_path_factory.mktemp("schemathesis-pg") / "data",
                database_url=f"{base}/{name}",
            )
        )
        with opened.client:
            yield opened
        runtime.close()
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed_records(api: Api) -> dict[str, list[str]]:
    """Fresh records of every kind, so generated requests can also name ids that exist (and the
    success answers get checked, not just the 404s). Fresh per test: earlier tests delete."""
    tag = secrets.token_hex(4)
    ws = api.ok("/identity/workspace/create", {"name": f"fuzz-{tag}"})["workspace_id"]
    group = api.ok("/identity/project-group/create", {"name": f"g-{tag}", "workspace_id": ws})
    project = api.ok(
        "/identity/project/create",
        {"name": f"p-{tag}", "workspace_id": ws, "project_group_id": group["project_group_id"]},
    )
    account = api.ok(
        "/identity/service-account/create",
        {
            "name": f"sa-{tag}",
            "provider": "aws",
            "project_id": project["project_id"],
            "data": {"account_id": "123456789012"},
            "secret_data": {"k": "v"},
        },
    )
    app = api.ok(
        "/identity/app/create",
        {
            "name": f"a-{tag}",
            "role_id": MANAGED_ROLE_IDS[RoleType.WORKSPACE_OWNER],
            "workspace_id": ws,
        },
    )
    role = api.ok(
        "/identity/role/create",
        {
            "name": f"r-{tag}",
            "role_type": "WORKSPACE_MEMBER",
            "permissions": ["identity:Project.read"],
        },
    )
    return {
        "workspace_id": [ws],
        "project_group_id": [group["project_group_id"]],
        "parent_group_id": [group["project_group_id"]],
        "project_id": [project["project_id"]],
        "service_account_id": [account["service_account_id"]],
        "app_id": [app["app_id"]],
        "role_id": [role["role_id"], *MANAGED_ROLE_IDS.values()],
    }


def _admin_still_works(api: Api) -> None:
    response = api.client.post(
        "/identity/domain/get", json={}, headers={"Authorization": f"Bearer {api.token}"}
    )
    assert response.status_code == 200, response.text


# -- schemathesis ------------------------------------------------------------------------------


def test_openapi_lists_every_verb_under_test(api):
    operations = {result.ok().path for result in api.schema.get_all_operations()}
    assert set(VERB_PATHS) <= operations
    assert len(VERB_PATHS) >= 40


@pytest.mark.parametrize("path", VERB_PATHS)
def test_verb_conforms_to_the_openapi_document(api, path):
    known_ids = seed_records(api)
    operation = api.schema[path]["POST"]
    auth = {"Authorization": f"Bearer {api.token}"}
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=SCHEMATHESIS_EXAMPLES,
        phases=[Phase.explicit, Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, data=st.data())
    def check(case: Any, data: st.DataObject) -> None:
        # Half the time, point id fields at records that exist, and give the fields the
        # document cannot describe fully (stat queries, permission strings) real values, so
        # that success answers get checked too, not just the 400s and 404s. Every draw is made
        # unconditionally, in a fixed order: draws that depend on the generated body make
        # hypothesis see inconsistent data generation between runs.
        use_known = data.draw(
            st.fixed_dictionaries({k: st.booleans() for k in sorted(known_ids)}), label="use"
        )
        picks = data.draw(
            st.fixed_dictionaries({k: st.sampled_from(v) for k, v in sorted(known_ids.items())}),
            label="ids",
        )
        real_stat = data.draw(st.booleans(), label="real stat")
        stat_query = data.draw(STAT_QUERIES, label="stat query")
        real_perms = data.draw(st.booleans(), label="real perms")
        permissions = data.draw(PERMISSIONS, label="permissions")
        if isinstance(case.body, dict):
            for key in list(case.body):
                if key in known_ids and use_known[key]:
                    case.body[key] = picks[key]
            if path.endswith("/stat") and real_stat:
                case.body["query"] = stat_query
            if "permissions" in case.body and real_perms:
                case.body["permissions"] = permissions
        case.call_and_validate(headers=auth, checks=CHECKS)

    check()
    _admin_still_works(api)


@pytest.mark.parametrize(("method", "path"), [(op.method, op.path) for op in EXPLORER_OPERATIONS])
def test_explorer_route_conforms_to_the_openapi_document(api, method, path):
    """The Resource Explorer routes too: documented statuses (202 for accepted changes), the
    dialect's error body, never a 5xx, with the explorer's own header."""
    known_ids = seed_records(api)
    operation = api.schema[path][method]
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=SCHEMATHESIS_EXAMPLES,
        phases=[Phase.explicit, Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, real_project=st.booleans())
    def check(case: Any, real_project: bool) -> None:
        if isinstance(case.body, dict) and "project_id" in case.body and real_project:
            case.body["project_id"] = known_ids["project_id"][0]
        case.call_and_validate(headers={"X-Auth-Token": api.token}, checks=CHECKS)

    check()
    _admin_still_works(api)


# -- hypothesis fuzz -----------------------------------------------------------------------------

_ODD_TEXT = st.sampled_from(
    [
        "\x00",
        "a\x00b",
        "\ufeff",
        "\u202e",
        "\U0001f600",
        "e\u0301",
        "",
        " ",
        "%",
        "_",
        "\\",
        "'; DROP TABLE apps; --",
        "../../etc/passwd",
        "now",
        "now/d - 3 d",
        "2024-13-45T99:99:99Z",
        "9999-12-31T23:59:59Z",
        "x" * 5000,
        "tags.",
        "data..x",
        "$where",
    ]
)
# (Lone surrogates are not here: the body would not even parse as JSON; the malformed-body test
# below sends them.)
_TEXT = st.one_of(st.text(max_size=40), _ODD_TEXT)
_HUGE = st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, -(10**100), 2**1000])
_NUMBER = st.one_of(
    st.integers(),
    _HUGE,
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 1e308, -1e-308, 0.5]),
)
_SCALAR = st.one_of(st.none(), st.booleans(), _NUMBER, _TEXT)
_JSON = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def _deep(draw: st.DrawFn) -> Any:
    value: Any = draw(_SCALAR)
    for _ in range(draw(st.integers(min_value=20, max_value=400))):
        value = [value] if draw(st.booleans()) else {draw(_TEXT): value}
    return value


_VALUE = st.one_of(_JSON, _deep())
_OBJECT = st.dictionaries(_TEXT, st.one_of(_JSON, _deep()), max_size=4)
_FIELD_KEYS = st.sampled_from(
    [
        "name",
        "state",
        "tags",
        "tags.env",
        "tags.",
        "data",
        "data.account_id",
        "data.a.b.c",
        "created_at",
        "updated_at",
        "expired_at",
        "workspace_id",
        "project_id",
        "provider",
        "role_type",
        "is_managed",
        "permissions",
        "secret_encrypted",
        "nosuch",
        "",
    ]
)
_CONDITION = st.fixed_dictionaries(
    {},
    optional={
        "k": st.one_of(_FIELD_KEYS, _TEXT),
        "key": _FIELD_KEYS,
        "v": _VALUE,
        "value": _VALUE,
        "o": st.one_of(st.sampled_from(sorted(OPERATORS)), _TEXT),
        "operator": st.sampled_from(sorted(OPERATORS)),
    },
)
_GROUP_STAGE = st.fixed_dictionaries(
    {
        "group": st.fixed_dictionaries(
            {},
            optional={
                "keys": st.lists(
                    st.fixed_dictionaries({"key": _FIELD_KEYS, "name": _TEXT}), max_size=2
                ),
                "fields": st.lists(
                    st.fixed_dictionaries(
                        {"key": _FIELD_KEYS, "name": _TEXT},
                        optional={"operator": st.one_of(st.sampled_from(GROUP_OPERATORS), _TEXT)},
                    ),
                    max_size=2,
                ),
            },
        )
    }
)
_OTHER_STAGE = st.one_of(
    st.fixed_dictionaries({"sort": st.one_of(st.fixed_dictionaries({"key": _TEXT}), _VALUE)}),
    st.fixed_dictionaries({"limit": _NUMBER}),
    st.fixed_dictionaries({"skip": _NUMBER}),
    st.fixed_dictionaries({"count": st.one_of(st.fixed_dictionaries({"name": _TEXT}), _VALUE)}),
    st.fixed_dictionaries({"match": _VALUE}),
    st.fixed_dictionaries({"project": _VALUE}),
)
_QUERY = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "filter": st.one_of(st.lists(_CONDITION, max_size=3), _VALUE),
            "filter_or": st.lists(_CONDITION, max_size=2),
            "keyword": _TEXT,
            "only": st.one_of(st.lists(st.one_of(_FIELD_KEYS, _TEXT), max_size=3), _VALUE),
            "sort": st.one_of(
                st.lists(
                    st.fixed_dictionaries({"key": _FIELD_KEYS}, optional={"desc": _VALUE}),
                    max_size=2,
                ),
                _VALUE,
            ),
            "page": st.one_of(
                st.fixed_dictionaries({}, optional={"start": _NUMBER, "limit": _NUMBER}), _VALUE
            ),
            "minimal": _VALUE,
            "count_only": _VALUE,
            "distinct": st.one_of(_FIELD_KEYS, _VALUE),
            "aggregate": st.one_of(
                st.lists(st.one_of(_GROUP_STAGE, _OTHER_STAGE, _JSON), max_size=3), _VALUE
            ),
        },
    ),
    _VALUE,
)
KNOWN = "<known>"  # replaced by the id of a record that exists, when there is one

#: Per body field: plausible values (often valid) or anything at all.
_FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "query": _QUERY,
    "tags": st.one_of(st.dictionaries(_TEXT, _TEXT, max_size=4), _VALUE),
    "data": st.one_of(_OBJECT, _VALUE),
    "secret_data": st.one_of(_OBJECT, _VALUE),
    "permissions": st.one_of(st.lists(st.one_of(PERMISSIONS, _TEXT), max_size=3), _VALUE),
    "role_type": st.one_of(st.sampled_from([r.value for r in RoleType]), _VALUE),
    "resource_group": st.one_of(st.sampled_from(["DOMAIN", "WORKSPACE", "PROJECT"]), _VALUE),
    "project_type": st.one_of(st.sampled_from(["PUBLIC", "PRIVATE"]), _VALUE),
    "state": st.one_of(st.sampled_from(["ENABLED", "DISABLED"]), _VALUE),
    "expired_at": st.one_of(
        st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()), _TEXT, _VALUE
    ),
    "force": st.one_of(st.booleans(), _VALUE),
}


def _value_for(field: str) -> st.SearchStrategy[Any]:
    if field in _FIELD_VALUES:
        return _FIELD_VALUES[field]
    if field.endswith("_id"):
        return st.one_of(st.just(KNOWN), st.just(KNOWN), _TEXT, _VALUE)
    return st.one_of(_TEXT, _TEXT, _VALUE)  # names, providers


@st.composite
def _request(draw: st.DrawFn) -> tuple[str, Any]:
    """A verb and a body: its required fields mostly there, some fields odd, sometimes extra
    keys, sometimes not an object at all."""
    path = draw(st.sampled_from(VERB_PATHS))
    fields = FIELDS_OF[path]
    if draw(st.integers(0, 9)) == 0:
        return path, draw(_VALUE)
    body: dict[str, Any] = {}
    for name in REQUIRED_OF[path]:
        if draw(st.integers(0, 9)) != 0:
            body[name] = draw(_value_for(name))
    if fields:
        for name in draw(st.lists(st.sampled_from(fields), max_size=3, unique=True)):
            body[name] = draw(_value_for(name))
    if draw(st.integers(0, 9)) == 0:
        body[draw(_TEXT)] = draw(_VALUE)
    return path, body


def _resolve(body: Any, known: dict[str, list[str]]) -> Any:
    if isinstance(body, dict):
        return {
            k: (known[k][0] if k in known else "no-such-id") if v == KNOWN else v
            for k, v in body.items()
        }
    return body


@settings(
    max_examples=FUZZ_EXAMPLES,
    phases=[Phase.explicit, Phase.generate],
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(request=_request())
def _fuzz(api: Api, known: dict[str, list[str]], request: tuple[str, Any]) -> None:
    path, body = request
    body = _resolve(body, known)
    response = api.client.post(
        path,
        # json.dumps writes lone surrogates as escapes and huge ints in full.
        content=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"},
    )
    assert response.status_code < 500, (path, body, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    payload = response.json()
    if response.status_code != 200:
        assert set(payload) == {"detail"}, payload
        assert set(payload["detail"]) == {"code", "message"}, payload


@pytest.mark.parametrize("store", ["api", "pg_api"], ids=["sqlite", "postgres"])
def test_random_json_bodies_never_cause_a_server_error(request, store):
    api = request.getfixturevalue(store)
    _fuzz(api, seed_records(api))
    _admin_still_works(api)


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00",
        b'{"name": "\\u0000"}',
        b'{"name": "\\ud800"}',
        b"\xff\xfe{}",
        b'{"query": ' * 5000 + b"{}" + b"}" * 5000,
        b"[" * 100000 + b"]" * 100000,
        b'{"a": 1e999}',
        b'{"a": NaN}',
        b'{"a": 1' + b"0" * 5000 + b"}",
        b'{"name": "x", "name": "y"}',
    ],
    ids=[
        "nul",
        "escaped-nul",
        "lone-surrogate",
        "bom",
        "deep-object",
        "deep-array",
        "overflow-float",
        "nan",
        "5000-digit-int",
        "duplicate-key",
    ],
)
def test_malformed_bodies_never_cause_a_server_error(api, raw):
    for path in VERB_PATHS:
        response = api.client.post(
            path,
            content=raw,
            headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"},
        )
        assert response.status_code < 500, (path, response.status_code, response.text)


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00",
        b'{"filter": {"filter_string": "resource_name=\\u0000"}}',
        b'{"filter": {"filter_string": "resource_name=\\ud800"}}',
        b'{"filter": {"filter_kcrn": "kcrn:\\udbff\\udfff*:*:*:*:*"}}',
        b"\xff\xfe{}",
        b'{"filter": ' * 5000 + b"{}" + b"}" * 5000,
        b'{"limit": 1e999}',
        b'{"tags": [{"key": "k", "value": "\\u0000"}], "project_id": "p"}',
    ],
    ids=[
        "nul",
        "nul-in-filter",
        "lone-surrogate",
        "last-code-point",
        "bom",
        "deep",
        "inf",
        "nul-tag",
    ],
)
def test_malformed_explorer_bodies_are_answered_in_the_dialects_shape(api, raw):
    for op in EXPLORER_OPERATIONS:
        if op.request is None:
            continue
        response = api.client.request(
            op.method,
            op.path,
            content=raw,
            headers={"X-Auth-Token": api.token, "Content-Type": "application/json"},
        )
        assert response.status_code < 500, (op.path, response.status_code, response.text)
        if response.status_code >= 400:
            body = response.json()
            assert body["success"] is False and set(body["error"]) == {"code", "message"}
