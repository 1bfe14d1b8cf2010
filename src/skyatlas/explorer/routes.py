"""HTTP routes of the Resource Explorer dialect, and their OpenAPI description.

Same road as a SpaceONE verb: authenticate (`X-Auth-Token`, or `Authorization: Bearer`) →
role/permission gate → validate the body → run in one transaction → JSON. Errors are
`{"success": false, "error": {"code", "message"}}` (the app's handlers pick the shape by path).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from skyatlas.api.transport import bearer_token, json_response, parse_body, validation_message
from skyatlas.errors import InvalidParameter, PermissionDenied
from skyatlas.explorer import custom_tags as ct
from skyatlas.explorer.search import SearchRequest, search
from skyatlas.identity.caller import Caller, authenticate
from skyatlas.runtime import Runtime


class ExplorerTag(BaseModel):
    tag_id: str | None = Field(description="A custom tag's id; null for system tags.")
    key: str
    value: str
    type: str = Field(description="`custom` or `system` (a provider tag, read-only here).")


class ExplorerResource(BaseModel):
    kcrn: str = Field(description="kcrn:{region}:{project_id}:{service}:{resource_type}:{id}")
    project_id: str | None
    region: str = Field(description="The region code, `global` for resources without one.")
    resource_type: str
    service: str
    resource_id: str
    resource_name: str | None
    user_name: str | None = Field(description="Who created it: an app, `import`, a collector.")
    tags: list[ExplorerTag]
    provider: str
    cloud_service_id: str = Field(description="The same resource's id in the SpaceONE dialect.")


class SearchResponse(BaseModel):
    success: bool
    resources: list[ExplorerResource]
    count: int = Field(description="Resources in this page.")
    total_count: int = Field(description="Every match visible to the caller.")


class TagInfo(BaseModel):
    tag_id: str | None = Field(description="null for system tags (grouped by key and value).")
    project_id: str | None = Field(
        default=None, description="The project a custom tag belongs to; null for system tags."
    )
    key: str
    value: str
    type: str
    created_at: str | None = Field(description="ISO 8601 UTC; system tags: first seen.")


class TagWithCount(TagInfo):
    resource_count: int = Field(description="Visible resources the tag is attached to.")


class TagSearchResponse(BaseModel):
    success: bool
    total_count: int
    count: int
    tags: list[TagWithCount]


class TagGetResponse(BaseModel):
    success: bool
    tag: TagInfo


class NewTag(BaseModel):
    tag_id: str
    key: str
    value: str


class TagCreateResponse(BaseModel):
    success: bool
    tags: list[NewTag]
    operation_id: str = Field(description="Poll GET /api/v1/operations/{operation_id}.")


class Accepted(BaseModel):
    success: bool
    operation_id: str = Field(description="Poll GET /api/v1/operations/{operation_id}.")


class OperationInfo(BaseModel):
    operation_id: str
    kind: str = Field(description="tag.create, tag.delete or tag.attach.")
    state: str = Field(description="PENDING, RUNNING, SUCCEEDED or FAILED.")
    created_at: str
    finished_at: str | None
    error: str | None


class OperationResponse(BaseModel):
    success: bool
    operation: OperationInfo


READ = "inventory:CloudService.read"
WRITE = "inventory:CloudService.write"
ASYNC_NOTE = (
    " Asynchronous: checked in full first (a request that would fail is answered 400 and "
    "nothing is queued), then 202 with an `operation_id`; operations apply in the order they "
    "were accepted, and survive a restart."
)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    request: type[BaseModel] | None
    response: type[BaseModel]
    permission: str
    summary: str
    description: str
    handler: Callable[[Any, Caller, Any, dict[str, str]], Any]
    write: bool = False
    status: int = 200


OPERATIONS = [
    Operation(
        method="POST",
        path="/api/v1/resources/search",
        request=SearchRequest,
        response=SearchResponse,
        permission=READ,
        summary="Search resources by KCRN and filter_string",
        description=(
            "`filter.filter_kcrn` is a KCRN whose six segments are globs; "
            "`filter.filter_string` is `cond&cond…` with `[-]key=value` conditions over "
            "resource_name, resource_id (exact, `*x*`, `x*`, `*x`, `*`), region, service, "
            "resource_type, tag.key, tag.value, provider, project_id (exact, `*`) and the words "
            "`tag:all` / `tag:none`; `\\` escapes `& * = - \\`. Both filters AND. "
            "`offset` ≥ 0, `limit` 1..500 (default 500), `sort` `+`/`-` resource_name, "
            "resource_id, resource_type or service; ties and the default order are by KCRN. "
            "Every role may search; members see their projects only."
        ),
        handler=lambda conn, caller, req, _path: search(conn, caller, req),
    ),
    Operation(
        method="POST",
        path="/api/v1/tags/search",
        request=ct.TagSearchRequest,
        response=TagSearchResponse,
        permission=READ,
        summary="Search tags",
        description=(
            "Custom tags of the caller's projects and system (provider) tags grouped by key and "
            "value, with `resource_count`. `filter.filter_string` over tag.key, tag.value, "
            "tag.type (exact, `*`, negation) and `tag:in_use` / `tag:not_in_use`; `sort` `+`/`-` "
            "tag.key, tag.value, tag.type, tag.created_at."
        ),
        handler=lambda conn, caller, req, _path: ct.search_tags(conn, caller, req),
    ),
    Operation(
        method="GET",
        path="/api/v1/tags/search/{tag_id}",
        request=None,
        response=TagGetResponse,
        permission=READ,
        summary="Get a custom tag",
        description="404 for an unknown id and for a tag of a project the caller cannot see.",
        handler=lambda conn, caller, _req, path: ct.get_tag(conn, caller, path["tag_id"]),
    ),
    Operation(
        method="POST",
        path="/api/v1/tags",
        request=ct.TagCreateRequest,
        response=TagCreateResponse,
        permission=WRITE,
        summary="Create custom tags (1..100)",
        description=(
            "Key 1..128 characters, value 0..256, no control characters; a key/value pair is "
            "unique per project (a duplicate is 409 and nothing is created). Domain- and "
            "workspace-level apps name the project with `project_id`; an app bound to one "
            "project uses its own. The tag ids are in the answer; the tags become visible when "
            "the operation applies." + ASYNC_NOTE
        ),
        handler=lambda conn, caller, req, _path: ct.accept_create(conn, caller, req),
        write=True,
        status=202,
    ),
    Operation(
        method="POST",
        path="/console/api/v1/tags/delete",
        request=ct.TagDeleteRequest,
        response=Accepted,
        permission=WRITE,
        summary="Delete custom tags (1..100)",
        description=(
            "Deleting a tag detaches it from every resource. Any id that does not exist (or is "
            "not visible) makes the whole request 400, naming the ids." + ASYNC_NOTE
        ),
        handler=lambda conn, caller, req, _path: ct.accept_delete(conn, caller, req),
        write=True,
        status=202,
    ),
    Operation(
        method="PATCH",
        path="/api/v1/tags",
        request=ct.TagAttachRequest,
        response=Accepted,
        permission=WRITE,
        summary="Attach and detach custom tags on resources",
        description=(
            "`kcrns` (1..100), `connect_tag_ids`, `disconnect_tag_ids`: all three keys are "
            "required, and at least one tag list is not empty. An unknown KCRN or tag id, a "
            "system tag, or a tag of another project than the resource is 400 and nothing "
            "applies." + ASYNC_NOTE
        ),
        handler=lambda conn, caller, req, _path: ct.accept_attach(conn, caller, req),
        write=True,
        status=202,
    ),
    Operation(
        method="GET",
        path="/api/v1/operations/{operation_id}",
        request=None,
        response=OperationResponse,
        permission=READ,
        summary="The state of an asynchronous tag operation",
        description="Visible to the app that made it and to the admins of its workspace.",
        handler=lambda conn, caller, _req, path: ct.get_operation(
            conn, caller, path["operation_id"]
        ),
    ),
]


def _run(
    runtime: Runtime, op: Operation, token: str | None, body: bytes, path: dict[str, str]
) -> Any:
    return run_operation_as(
        runtime, op, lambda conn: authenticate(conn, runtime.keys, token), body, path
    )


def run_operation_as(
    runtime: Runtime,
    op: Operation,
    identify: Callable[[Connection], Caller],
    payload: dict[str, Any] | bytes,
    path: dict[str, str],
) -> Any:
    """The one road of an operation, for the API and for the web console alike (a raw body is
    parsed once the caller is known)."""
    with runtime.store.begin(write=op.write) as conn:
        caller = identify(conn)
        if not caller.may(op.permission):
            raise PermissionDenied(f"the {caller.kind}'s role lacks the permission {op.permission}")
        request = None
        if op.request is not None:
            if isinstance(payload, bytes):
                payload = parse_body(payload)
            try:
                request = op.request.model_validate(payload)
            except ValidationError as exc:
                raise InvalidParameter(validation_message(exc)) from None
        return op.handler(conn, caller, request, path)


def _endpoint(runtime: Runtime, op: Operation) -> Any:
    async def endpoint(request: Request) -> Response:
        body = await request.body()
        path = dict(request.path_params)
        result = await run_in_threadpool(_run, runtime, op, bearer_token(request), body, path)
        if op.write and runtime.workers is not None:
            runtime.workers.wake()  # committed: let a worker apply it now
        return json_response(result, op.status)

    endpoint.__name__ = "_".join(
        p for p in op.path.replace("{", "").replace("}", "").split("/") if p
    )
    return endpoint


def mount_explorer(app: Any, runtime: Runtime) -> None:
    for op in OPERATIONS:
        app.add_route(op.path, _endpoint(runtime, op), methods=[op.method])
