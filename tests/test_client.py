"""`skyatlas.client`: its public surface, the SpaceONE verbs against the in-process app, paging,
the retry policy, both dialects' error bodies, the Resource Explorer calls and TLS set-up."""

from __future__ import annotations

import json
import socket
import ssl
import types
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import skyatlas.client as client_pkg
from skyatlas import __version__
from skyatlas.client import (
    MAX_SEARCH_LIMIT,
    READ_VERBS,
    APIError,
    Client,
    ClientError,
    ConnectionFailed,
    Explorer,
)
from skyatlas.client._client import _verify

ENDPOINT = "http://skyatlas.test"
TOKEN = "secret-token"

# -- helpers -----------------------------------------------------------------------------------


class Recorder:
    """A MockTransport handler that records every request and answers from `respond`."""

    def __init__(self, respond: Callable[[httpx.Request, int], Any]) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.respond(request, len(self.requests))
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    @property
    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]


def mock_client(respond: Callable[[httpx.Request, int], Any], **kwargs: Any):
    recorder = Recorder(respond)
    kwargs.setdefault("backoff", 0)
    client = Client(ENDPOINT, TOKEN, transport=httpx.MockTransport(recorder), **kwargs)
    return client, recorder


def pager(records: list[dict[str, Any]], *, cap: int | None = None, total: bool = True):
    """A SpaceONE-style list server over `records` (1-based `query.page.start`)."""

    def respond(request: httpx.Request, _n: int) -> Any:
        page = json.loads(request.content)["query"]["page"]
        start, limit = page["start"], page["limit"]
        if cap is not None:
            limit = min(limit, cap)
        answer: dict[str, Any] = {"results": records[start - 1 : start - 1 + limit]}
        if total:
            answer["total_count"] = len(records)
        return answer

    return respond


# -- public surface ----------------------------------------------------------------------------


def test_all_is_exactly_the_public_names():
    public = {
        name
        for name, value in vars(client_pkg).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(client_pkg.__all__) == public
    assert len(client_pkg.__all__) == len(set(client_pkg.__all__))


def test_all_names_exist_and_no_private_module_leaks():
    for name in client_pkg.__all__:
        assert not name.startswith("_"), name
        value = getattr(client_pkg, name)
        assert not isinstance(value, types.ModuleType), name
    namespace: dict[str, Any] = {}
    exec("from skyatlas.client import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(client_pkg.__all__)


def test_every_private_module_export_is_reexported():
    from skyatlas.client import _client, _errors, _explorer

    for module in (_client, _errors, _explorer):
        for name in module.__all__:
            assert name in client_pkg.__all__, (module.__name__, name)
            assert getattr(client_pkg, name) is getattr(module, name)


def test_errors_share_one_base_class():
    assert issubclass(APIError, ClientError)
    assert issubclass(ConnectionFailed, ClientError)
    assert frozenset({"get", "list", "stat", "analyze"}) == READ_VERBS
    assert MAX_SEARCH_LIMIT == 500


# -- against the in-process app ----------------------------------------------------------------


class AppTransport(httpx.BaseTransport):
    """Forwards to the fixture's Starlette TestClient (same app, same lifespan); counts."""

    def __init__(self, test_client: Any) -> None:
        self.test_client = test_client
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        response = self.test_client.send(request)
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )


@pytest.fixture
def app_transport(sqlite_env):
    return AppTransport(sqlite_env.client)


@pytest.fixture
def app_client(sqlite_env, app_transport):
    with Client("http://testserver", sqlite_env.admin_token, transport=app_transport) as client:
        yield client


def test_call_lists_workspaces(app_client, sqlite_env):
    answer = app_client.call("identity", "workspace", "list", {})
    assert answer["total_count"] == 1
    assert [w["workspace_id"] for w in answer["results"]] == [sqlite_env.workspace_id]


def test_call_creates_and_lists_regions(app_client, sqlite_env):
    assert app_client.call("inventory", "region", "list") == {"results": [], "total_count": 0}
    created = app_client.call(
        "inventory",
        "region",
        "create",
        {
            "name": "Seoul",
            "region_code": "ap-northeast-2",
            "provider": "aws",
            "workspace_id": sqlite_env.workspace_id,
        },
    )
    answer = app_client.call("inventory", "region", "list", {})
    assert answer["total_count"] == 1
    assert answer["results"][0]["region_id"] == created["region_id"]
    assert answer["results"][0]["region_code"] == "ap-northeast-2"


def test_unknown_verb_is_a_404_api_error(app_client, app_transport):
    with pytest.raises(APIError) as info:
        app_client.call("identity", "nothing", "list", {})
    assert (info.value.status, info.value.code) == (404, "ERROR_NOT_FOUND")
    assert not info.value.is_auth
    assert "404 ERROR_NOT_FOUND" in str(info.value)
    assert len(app_transport.paths) == 1  # a 404 is an answer, never retried


def test_bad_body_is_a_400_api_error_naming_the_field(app_client):
    with pytest.raises(APIError) as info:
        app_client.call("identity", "workspace", "list", {"bogus": 1})
    assert (info.value.status, info.value.code) == (400, "ERROR_INVALID_PARAMETER")
    assert "bogus" in info.value.message
    assert not info.value.is_auth


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_missing_or_wrong_token_is_a_401_auth_error(sqlite_env, app_transport, token):
    client = Client("http://testserver", token, transport=app_transport)
    with client, pytest.raises(APIError) as info:
        client.call("identity", "workspace", "list", {})
    assert info.value.status == 401
    assert info.value.code.startswith("ERROR_")
    assert info.value.is_auth


def test_a_role_without_the_permission_is_a_403_auth_error(sqlite_env, app_client, app_transport):
    owner = app_client.call(
        "identity",
        "app",
        "create",
        {
            "name": "owner",
            "role_id": "managed-workspace-owner",
            "workspace_id": sqlite_env.workspace_id,
        },
    )["client_secret"]
    with Client("http://testserver", owner, transport=app_transport) as client:
        assert client.call("identity", "project", "list", {})["total_count"] == 0
        with pytest.raises(APIError) as info:
            client.call("identity", "workspace", "create", {"name": "escalate"})
    assert (info.value.status, info.value.code) == (403, "ERROR_PERMISSION_DENIED")
    assert info.value.is_auth


def test_check_and_reflection(app_client):
    assert app_client.check() == {"status": "SERVING"}
    services = {s["name"] for s in app_client.reflection()["services"]}
    assert {"identity", "inventory"} <= services


@pytest.fixture
def projects(app_client, sqlite_env):
    for i in range(25):
        app_client.call(
            "identity",
            "project",
            "create",
            {"name": f"p-{i:02d}", "workspace_id": sqlite_env.workspace_id},
        )
    everything = app_client.call("identity", "project", "list", {})
    assert everything["total_count"] == 25
    return [p["project_id"] for p in everything["results"]]


def test_paginate_yields_every_record_once_in_order(app_client, app_transport, projects):
    app_transport.paths.clear()
    got = [p["project_id"] for p in app_client.paginate("identity", "project", page_size=7)]
    assert got == projects
    assert len(set(got)) == 25
    assert len(app_transport.paths) == 4  # 7+7+7+4: stops at total_count, no empty request


def test_iter_pages_yields_whole_pages(app_client, projects):
    pages = list(app_client.iter_pages("identity", "project", page_size=7))
    assert [len(p["results"]) for p in pages] == [7, 7, 7, 4]
    assert all(p["total_count"] == 25 for p in pages)


def test_paginate_keeps_the_rest_of_the_query(app_client, projects):
    body = {"query": {"sort": [{"key": "name", "desc": True}]}}
    records = app_client.paginate("identity", "project", "list", body, page_size=7)
    names = [p["name"] for p in records]
    assert names == [f"p-{i:02d}" for i in reversed(range(25))]
    assert body == {"query": {"sort": [{"key": "name", "desc": True}]}}  # not mutated


def test_paging_stops_at_an_empty_page():
    records = [{"id": i} for i in range(10)]
    client, seen = mock_client(pager(records, total=False))
    assert list(client.paginate("s", "r", page_size=4)) == records
    assert [b["query"]["page"] for b in seen.bodies] == [
        {"start": 1, "limit": 4},
        {"start": 5, "limit": 4},
        {"start": 9, "limit": 4},
        {"start": 11, "limit": 4},
    ]
    assert list(client.iter_pages("s", "r", page_size=4))[-1]["results"] == records[8:]


def test_paging_stops_once_total_count_is_reached():
    records = [{"id": i} for i in range(10)]
    client, seen = mock_client(pager(records))
    assert list(client.paginate("s", "r", page_size=5)) == records
    assert len(seen.requests) == 2


def test_a_server_that_caps_the_page_still_yields_everything():
    records = [{"id": i} for i in range(10)]
    client, seen = mock_client(pager(records, cap=3))
    assert list(client.paginate("s", "r", page_size=7)) == records
    assert [b["query"]["page"]["start"] for b in seen.bodies] == [1, 4, 7, 10]


def test_a_capping_server_without_total_count_still_yields_everything():
    records = [{"id": i} for i in range(10)]
    client, _ = mock_client(pager(records, cap=3, total=False))
    assert list(client.paginate("s", "r", page_size=7)) == records


def test_paging_an_empty_list_yields_nothing():
    client, seen = mock_client(lambda r, n: {"results": [], "total_count": 0})
    assert list(client.iter_pages("s", "r")) == []
    assert len(seen.requests) == 1


def test_page_size_must_be_positive():
    client, _ = mock_client(lambda r, n: {})
    with pytest.raises(ValueError):
        list(client.paginate("s", "r", page_size=0))


# -- requests ------------------------------------------------------------------------------------


def test_requests_carry_both_auth_headers_and_a_user_agent():
    client, seen = mock_client(lambda r, n: {"ok": True})
    assert client.call("identity", "workspace", "list", {"query": {}}) == {"ok": True}
    request = seen.requests[0]
    assert request.method == "POST"
    assert request.url == httpx.URL(f"{ENDPOINT}/identity/workspace/list")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["x-auth-token"] == TOKEN
    assert request.headers["user-agent"] == f"skyatlas-client/{__version__}"
    assert seen.bodies == [{"query": {}}]


def test_no_token_sends_no_auth_header():
    recorder = Recorder(lambda r, n: {})
    with Client(ENDPOINT, transport=httpx.MockTransport(recorder)) as client:
        client.call("s", "r", "list")
    assert "authorization" not in recorder.requests[0].headers
    assert "x-auth-token" not in recorder.requests[0].headers
    assert recorder.bodies == [{}]


def test_a_trailing_slash_on_the_endpoint_is_ignored():
    recorder = Recorder(lambda r, n: {})
    with Client(ENDPOINT + "/", TOKEN, transport=httpx.MockTransport(recorder)) as client:
        client.call("identity", "domain", "get")
    assert client.endpoint == ENDPOINT
    assert recorder.requests[0].url.path == "/identity/domain/get"


def test_an_empty_answer_is_an_empty_object():
    client, _ = mock_client(lambda r, n: httpx.Response(200, content=b""))
    assert client.call("s", "r", "delete", {}) == {}


def test_a_success_that_is_not_json_is_an_api_error():
    client, _ = mock_client(lambda r, n: httpx.Response(200, text="<html>hello</html>"))
    with pytest.raises(APIError) as info:
        client.call("s", "r", "get")
    assert (info.value.status, info.value.code) == (200, "ERROR_NOT_JSON")
    assert "<html>hello</html>" in info.value.message


# -- retries -------------------------------------------------------------------------------------


def flaky(first: Any, then: Any = None) -> Callable[[httpx.Request, int], Any]:
    """Answer `first` on the first request, `then` (default: a success) afterwards."""

    def respond(request: httpx.Request, n: int) -> Any:
        if n == 1:
            return first() if callable(first) else first
        return {"answer": n} if then is None else (then() if callable(then) else then)

    return respond


def read_timeout() -> httpx.ReadTimeout:
    return httpx.ReadTimeout("read timed out")


def connect_error() -> httpx.ConnectError:
    return httpx.ConnectError("connection refused")


@pytest.mark.parametrize("verb", ["get", "list", "stat", "analyze"])
@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_read_verb_is_retried_on_a_gateway_error(verb, status):
    client, seen = mock_client(flaky(httpx.Response(status)))
    assert client.call("inventory", "cloud-service", verb, {}) == {"answer": 2}
    assert len(seen.requests) == 2


@pytest.mark.parametrize("verb", ["get", "list", "stat", "analyze"])
def test_a_read_verb_is_retried_on_a_read_timeout(verb):
    client, seen = mock_client(flaky(read_timeout))
    assert client.call("inventory", "cloud-service", verb, {}) == {"answer": 2}
    assert len(seen.requests) == 2


@pytest.mark.parametrize("verb", ["create", "update", "delete"])
def test_a_write_verb_is_not_retried_on_503(verb):
    client, seen = mock_client(flaky(httpx.Response(503)))
    with pytest.raises(APIError) as info:
        client.call("identity", "project", verb, {"name": "x"})
    assert info.value.status == 503
    assert len(seen.requests) == 1


@pytest.mark.parametrize("verb", ["create", "update", "delete"])
def test_a_write_verb_is_not_retried_on_a_read_timeout(verb):
    client, seen = mock_client(flaky(read_timeout))
    with pytest.raises(ConnectionFailed) as info:
        client.call("identity", "project", verb, {"name": "x"})
    assert "timed out" in info.value.reason
    assert info.value.endpoint == ENDPOINT
    assert len(seen.requests) == 1


@pytest.mark.parametrize("verb", ["create", "update", "delete", "list"])
def test_a_connect_error_is_retried_for_any_verb(verb):
    client, seen = mock_client(flaky(connect_error))
    assert client.call("identity", "project", verb, {}) == {"answer": 2}
    assert len(seen.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 500])
def test_other_errors_are_not_retried_even_for_reads(status):
    client, seen = mock_client(flaky(httpx.Response(status)))
    with pytest.raises(APIError) as info:
        client.call("s", "r", "list")
    assert info.value.status == status
    assert len(seen.requests) == 1


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_after_the_retries_a_transport_error_surfaces(retries):
    client, seen = mock_client(lambda r, n: connect_error(), retries=retries)
    with pytest.raises(ConnectionFailed) as info:
        client.call("s", "r", "create", {})
    assert "connection refused" in str(info.value)
    assert ENDPOINT in str(info.value)
    assert len(seen.requests) == retries + 1


@pytest.mark.parametrize("retries", [0, 2])
def test_after_the_retries_an_http_error_surfaces(retries):
    client, seen = mock_client(lambda r, n: httpx.Response(503), retries=retries)
    with pytest.raises(APIError) as info:
        client.call("s", "r", "list", {})
    assert info.value.status == 503
    assert len(seen.requests) == retries + 1


def test_after_the_retries_a_read_timeout_surfaces():
    client, seen = mock_client(lambda r, n: read_timeout(), retries=2)
    with pytest.raises(ConnectionFailed):
        client.call("s", "r", "get", {})
    assert len(seen.requests) == 3


def test_retries_back_off_exponentially(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr("skyatlas.client._client.time.sleep", slept.append)
    client, _ = mock_client(lambda r, n: httpx.Response(503), retries=3, backoff=0.5)
    with pytest.raises(APIError):
        client.call("s", "r", "list")
    assert slept == [0.5, 1.0, 2.0]


def test_a_refused_connection_on_a_real_socket_is_connection_failed():
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = Client(f"http://127.0.0.1:{port}", TOKEN, retries=0, timeout=5)
    with client, pytest.raises(ConnectionFailed) as info:
        client.check()
    assert info.value.endpoint == f"http://127.0.0.1:{port}"


# -- error bodies --------------------------------------------------------------------------------


def test_a_spaceone_error_body_is_understood():
    body = {"detail": {"code": "ERROR_CONFLICT", "message": "a workspace named x exists"}}
    client, _ = mock_client(lambda r, n: httpx.Response(409, json=body))
    with pytest.raises(APIError) as info:
        client.call("identity", "workspace", "create", {"name": "x"})
    assert (info.value.status, info.value.code) == (409, "ERROR_CONFLICT")
    assert info.value.message == "a workspace named x exists"


def test_a_resource_explorer_error_body_is_understood():
    body = {"success": False, "error": {"code": "ERROR_INVALID_FILTER", "message": "bad key"}}
    client, _ = mock_client(lambda r, n: httpx.Response(400, json=body))
    with pytest.raises(APIError) as info:
        client.explorer.search("nope=1")
    assert (info.value.status, info.value.code) == (400, "ERROR_INVALID_FILTER")
    assert info.value.message == "bad key"


def test_a_plain_detail_string_keeps_its_message():
    client, _ = mock_client(lambda r, n: httpx.Response(404, json={"detail": "Not Found"}))
    with pytest.raises(APIError) as info:
        client.call("s", "r", "get")
    assert (info.value.status, info.value.code) == (404, "ERROR_HTTP_404")
    assert info.value.message == "Not Found"


def test_an_html_gateway_page_gives_the_status_and_a_short_excerpt():
    page = (
        "<html><head><title>502 Bad Gateway</title></head>\n<body>\n"
        + "<p>upstream went away</p>\n" * 500
        + "</body></html>"
    )
    client, _ = mock_client(lambda r, n: httpx.Response(502, text=page), retries=0)
    with pytest.raises(APIError) as info:
        client.call("s", "r", "list")
    error = info.value
    assert (error.status, error.code) == (502, "ERROR_HTTP_502")
    assert error.message.startswith("Bad Gateway: <html>")
    assert "502 Bad Gateway" in error.message
    assert len(error.message) < 300
    assert error.message.endswith("…")
    assert "\n" not in error.message


def test_an_empty_error_body_gives_the_reason_phrase():
    client, _ = mock_client(lambda r, n: httpx.Response(500, content=b""))
    with pytest.raises(APIError) as info:
        client.call("s", "r", "create")
    assert info.value.message == "Internal Server Error"
    assert info.value.code == "ERROR_HTTP_500"


# -- explorer ------------------------------------------------------------------------------------


def resources_server(items: list[dict[str, Any]], key: str = "resources", cap: int | None = None):
    def respond(request: httpx.Request, _n: int) -> Any:
        body = json.loads(request.content)
        offset, limit = body["offset"], body["limit"]
        if cap is not None:
            limit = min(limit, cap)
        page = items[offset : offset + limit]
        return {"success": True, key: page, "count": len(page), "total_count": len(items)}

    return respond


def test_explorer_is_attached_to_the_client():
    client, _ = mock_client(lambda r, n: {})
    assert isinstance(client.explorer, Explorer)


def test_search_sends_the_filter_paging_and_sort():
    client, seen = mock_client(lambda r, n: {"resources": [], "count": 0, "total_count": 0})
    answer = client.explorer.search(
        "service=EC2&tag.key=env",
        kcrn="kcrn:*:*:EC2:Instance:*",
        sort="-resource_name",
        offset=10,
        limit=20,
    )
    assert answer["total_count"] == 0
    request = seen.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/api/v1/resources/search"
    assert seen.bodies[0] == {
        "filter": {
            "filter_string": "service=EC2&tag.key=env",
            "filter_kcrn": "kcrn:*:*:EC2:Instance:*",
        },
        "offset": 10,
        "limit": 20,
        "sort": "-resource_name",
    }
    assert request.headers["x-auth-token"] == TOKEN
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_search_without_a_filter_omits_it():
    client, seen = mock_client(lambda r, n: {"resources": []})
    client.explorer.search()
    client.explorer.search(kcrn="kcrn:*:*:*:*:*")
    assert seen.bodies == [
        {"offset": 0, "limit": MAX_SEARCH_LIMIT},
        {"filter": {"filter_kcrn": "kcrn:*:*:*:*:*"}, "offset": 0, "limit": MAX_SEARCH_LIMIT},
    ]


def test_search_is_a_read_and_is_retried():
    client, seen = mock_client(flaky(httpx.Response(503), {"resources": [], "total_count": 0}))
    assert client.explorer.search()["total_count"] == 0
    assert len(seen.requests) == 2


def test_iter_resources_pages_by_offset_until_total_count():
    items = [{"kcrn": f"kcrn:r:p:S:T:{i}"} for i in range(12)]
    client, seen = mock_client(resources_server(items))
    assert list(client.explorer.iter_resources("service=S", page_size=5)) == items
    assert [(b["offset"], b["limit"]) for b in seen.bodies] == [(0, 5), (5, 5), (10, 5)]
    assert all(b["filter"] == {"filter_string": "service=S"} for b in seen.bodies)


def test_iter_resources_survives_a_server_that_caps_the_page():
    items = [{"kcrn": f"kcrn:r:p:S:T:{i}"} for i in range(12)]
    client, seen = mock_client(resources_server(items, cap=4))
    assert list(client.explorer.iter_resources(page_size=500)) == items
    assert [b["offset"] for b in seen.bodies] == [0, 4, 8]


def test_iter_resources_stops_at_an_empty_page_without_total_count():
    pages = [{"resources": [{"kcrn": "a"}]}, {"resources": []}]
    client, seen = mock_client(lambda r, n: pages[n - 1])
    assert list(client.explorer.iter_resources()) == [{"kcrn": "a"}]
    assert len(seen.requests) == 2


@pytest.mark.parametrize("size", [0, MAX_SEARCH_LIMIT + 1])
def test_iter_resources_rejects_a_page_size_out_of_range(size):
    client, seen = mock_client(lambda r, n: {"resources": []})
    with pytest.raises(ValueError):
        list(client.explorer.iter_resources(page_size=size))
    assert seen.requests == []


def test_an_answer_without_its_list_is_an_api_error():
    client, _ = mock_client(lambda r, n: {"success": True})
    with pytest.raises(APIError) as info:
        list(client.explorer.iter_resources())
    assert info.value.code == "ERROR_BAD_ANSWER"


def test_search_tags_and_iter_tags():
    tags = [{"tag_id": f"tag-{i}", "key": "env", "value": str(i)} for i in range(3)]
    client, seen = mock_client(resources_server(tags, key="tags"))
    page = client.explorer.search_tags("tag.key=env", sort="+tag.value", limit=2)
    assert page["tags"] == tags[:2]
    assert seen.requests[0].url.path == "/api/v1/tags/search"
    assert seen.bodies[0] == {
        "filter": {"filter_string": "tag.key=env"},
        "offset": 0,
        "limit": 2,
        "sort": "+tag.value",
    }
    assert list(client.explorer.iter_tags("tag.key=env", page_size=2)) == tags


def test_get_tag_returns_the_tag():
    tag = {"tag_id": "tag-1", "key": "env", "value": "prod", "type": "custom"}
    client, seen = mock_client(lambda r, n: {"success": True, "tag": tag})
    assert client.explorer.get_tag("tag-1") == tag
    assert seen.requests[0].method == "GET"
    assert seen.requests[0].url.path == "/api/v1/tags/search/tag-1"


def test_get_tag_of_an_unknown_id_is_a_404():
    body = {"success": False, "error": {"code": "ERROR_NOT_FOUND", "message": "no tag"}}
    client, _ = mock_client(lambda r, n: httpx.Response(404, json=body))
    with pytest.raises(APIError) as info:
        client.explorer.get_tag("tag-x")
    assert (info.value.status, info.value.code) == (404, "ERROR_NOT_FOUND")


def accepted(extra: dict[str, Any] | None = None):
    body = {"success": True, "operation_id": "op-1", **(extra or {})}
    return lambda r, n: httpx.Response(202, json=body)


def test_create_tags_posts_the_tags_and_optional_project():
    created = {"tags": [{"tag_id": "tag-1", "key": "env", "value": "prod"}]}
    client, seen = mock_client(accepted(created))
    answer = client.explorer.create_tags(
        [{"key": "env", "value": "prod"}, {"key": "team"}], project_id="project-1"
    )
    assert answer["operation_id"] == "op-1"
    assert answer["tags"] == created["tags"]
    client.explorer.create_tags([{"key": "env", "value": "dev"}])
    assert [(r.method, r.url.path) for r in seen.requests] == [("POST", "/api/v1/tags")] * 2
    assert seen.bodies == [
        {
            "tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": ""}],
            "project_id": "project-1",
        },
        {"tags": [{"key": "env", "value": "dev"}]},
    ]


def test_create_tags_is_a_write_and_is_not_retried():
    client, seen = mock_client(lambda r, n: read_timeout())
    with pytest.raises(ConnectionFailed):
        client.explorer.create_tags([{"key": "env", "value": "prod"}])
    assert len(seen.requests) == 1


def test_delete_tags():
    client, seen = mock_client(accepted())
    assert client.explorer.delete_tags(("tag-1", "tag-2"))["operation_id"] == "op-1"
    assert (seen.requests[0].method, seen.requests[0].url.path) == (
        "POST",
        "/console/api/v1/tags/delete",
    )
    assert seen.bodies == [{"tag_ids": ["tag-1", "tag-2"]}]


def test_attach_tags_sends_all_three_keys():
    client, seen = mock_client(accepted())
    client.explorer.attach_tags(["kcrn:a"], connect=["tag-1"], disconnect=("tag-2",))
    client.explorer.attach_tags(["kcrn:b"], connect=["tag-3"])
    assert {(r.method, r.url.path) for r in seen.requests} == {("PATCH", "/api/v1/tags")}
    assert seen.bodies == [
        {"kcrns": ["kcrn:a"], "connect_tag_ids": ["tag-1"], "disconnect_tag_ids": ["tag-2"]},
        {"kcrns": ["kcrn:b"], "connect_tag_ids": ["tag-3"], "disconnect_tag_ids": []},
    ]


def operations(states: list[str]):
    def respond(request: httpx.Request, n: int) -> Any:
        state = states[min(n, len(states)) - 1]
        return {"success": True, "operation": {"operation_id": "op-1", "state": state}}

    return respond


def test_operation_returns_the_operation():
    client, seen = mock_client(operations(["RUNNING"]))
    assert client.explorer.operation("op-1") == {"operation_id": "op-1", "state": "RUNNING"}
    assert (seen.requests[0].method, seen.requests[0].url.path) == (
        "GET",
        "/api/v1/operations/op-1",
    )


@pytest.mark.parametrize("final", ["SUCCEEDED", "FAILED"])
def test_wait_polls_until_the_operation_finishes(final):
    client, seen = mock_client(operations(["PENDING", "RUNNING", final, "PENDING"]))
    assert client.explorer.wait("op-1", timeout=5, poll=0)["state"] == final
    assert len(seen.requests) == 3


def test_wait_gives_up_after_the_timeout():
    client, seen = mock_client(operations(["PENDING"]))
    with pytest.raises(TimeoutError, match="op-1 is still PENDING"):
        client.explorer.wait("op-1", timeout=0.2, poll=0.01)
    assert 2 <= len(seen.requests) < 50


# -- TLS -----------------------------------------------------------------------------------------


def test_https_verifies_as_usual():
    assert _verify("https://skyatlas.example.com") is True


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8000", "HTTP://Example.com"])
def test_plain_http_gets_an_empty_but_still_verifying_context(endpoint):
    context = _verify(endpoint)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0


def test_only_https_loads_the_ca_bundle(monkeypatch):
    loads: list[Any] = []
    original = ssl.SSLContext.load_verify_locations

    def spy(self, *args, **kwargs):
        loads.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", spy)
    Client("http://127.0.0.1:8000", TOKEN).close()
    assert loads == []
    Client("https://skyatlas.example.com", TOKEN).close()
    assert loads
