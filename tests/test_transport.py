"""The SpaceONE transport: routes, health, reflection, OpenAPI, docs, error shapes, limits."""

from __future__ import annotations

import re

import pytest

from skyatlas.api.app import build_registry


def _error(response, status: int, code: str | None = None) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail"}
    assert set(body["detail"]) == {"code", "message"}
    if code:
        assert body["detail"]["code"] == code
    assert "Traceback" not in response.text
    return body["detail"]["message"]


def test_check_needs_no_token(sqlite_env):
    response = sqlite_env.client.get("/check")
    assert response.status_code == 200
    assert response.json() == {"status": "SERVING"}


def test_workspace_list_answers_results_and_total_count(env):
    body = env.ok("/identity/workspace/list", {})
    assert body["total_count"] == 1
    assert [w["name"] for w in body["results"]] == ["default"]
    assert re.fullmatch(r"workspace-[0-9a-f]{12}", body["results"][0]["workspace_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["results"][0]["created_at"])


def test_empty_body_is_an_empty_object(sqlite_env):
    response = sqlite_env.client.post(
        "/identity/workspace/list",
        content=b"",
        headers={"Authorization": f"Bearer {sqlite_env.admin_token}"},
    )
    assert response.status_code == 200
    assert response.json()["total_count"] == 1


def test_x_auth_token_header_works_like_bearer(sqlite_env):
    response = sqlite_env.call("/identity/domain/get", {}, header="x-auth-token")
    assert response.status_code == 200
    assert response.json()["domain_id"] == sqlite_env.domain_id


@pytest.mark.parametrize(
    "path",
    ["/identity/nothing/list", "/identity/workspace/explode", "/nosuch/workspace/list", "/x"],
)
def test_unknown_service_resource_or_verb_is_404(sqlite_env, path):
    message = _error(sqlite_env.call(path, {}), 404, "ERROR_NOT_FOUND")
    assert "verb" in message


def test_get_on_a_verb_is_405_with_error_body(sqlite_env):
    _error(sqlite_env.client.get("/identity/workspace/list"), 405)


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"), (b'"x"', "JSON object")],
)
def test_bad_json_is_400(sqlite_env, content, needle):
    response = sqlite_env.client.post(
        "/identity/workspace/list",
        content=content,
        headers={"Authorization": f"Bearer {sqlite_env.admin_token}"},
    )
    assert needle in _error(response, 400, "ERROR_INVALID_PARAMETER")


def test_unknown_body_field_is_400_naming_it(sqlite_env):
    message = _error(sqlite_env.call("/identity/workspace/list", {"bogus": 1}), 400)
    assert "bogus" in message


def test_missing_required_field_is_400_naming_it(sqlite_env):
    message = _error(sqlite_env.call("/identity/workspace/create", {}), 400)
    assert "name" in message


def test_authentication_comes_before_validation(sqlite_env):
    _error(sqlite_env.call("/identity/workspace/create", {"bogus": 1}, token=None), 401)


def test_body_over_the_limit_is_413(make_env):
    env = make_env(max_body_bytes=2048)
    big = {"name": "x", "tags": {f"k{i}": "v" * 50 for i in range(100)}}
    _error(env.call("/identity/workspace/create", big), 413, "ERROR_REQUEST_TOO_LARGE")
    assert env.ok("/identity/workspace/list")["total_count"] == 1  # nothing was created
    small = env.call("/identity/workspace/create", {"name": "small"})
    assert small.status_code == 200


def test_chunked_body_over_the_limit_is_413(make_env):
    env = make_env(max_body_bytes=1024)

    def chunks():
        for _ in range(10):
            yield b" " * 500

    response = env.client.post(
        "/identity/workspace/list",
        content=chunks(),
        headers={"Authorization": f"Bearer {env.admin_token}"},
    )
    _error(response, 413)


def test_default_body_limit_is_ten_mebibytes(sqlite_env):
    assert sqlite_env.settings.max_body_bytes == 10 * 1024 * 1024


def test_reflection_lists_every_registered_verb(sqlite_env):
    body = sqlite_env.client.get("/api/reflection").json()
    listed = {
        (s["name"], r["name"], v)
        for s in body["services"]
        for r in s["resources"]
        for v in r["verbs"]
    }
    registered = {(v.service, v.resource, v.verb) for v in build_registry()}
    assert listed == registered
    assert ("identity", "app", "generate-client-secret") in listed


def test_openapi_documents_every_verb_with_request_and_response(sqlite_env):
    doc = sqlite_env.client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    schemas = doc["components"]["schemas"]
    for verb in build_registry():
        op = doc["paths"][verb.path]["post"]
        assert op["description"].strip(), verb.path
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.rsplit("/", 1)[1] in schemas
        ok = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in ok, verb.path
        for status in ("400", "401", "403", "404", "413"):
            assert status in op["responses"], (verb.path, status)


def test_docs_are_served_offline(sqlite_env):
    page = sqlite_env.client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    for src in sources:
        assert src.startswith("/"), f"/docs loads {src} from another host"
        asset = sqlite_env.client.get(src)
        assert asset.status_code == 200, src
    assert "http://" not in page.text and "https://" not in page.text


def test_every_verb_has_a_description_and_a_role_gate():
    for verb in build_registry():
        assert verb.description
        assert verb.roles, verb.path
