"""The SpaceONE transport: every registered verb becomes `POST /{service}/{resource}/{verb}`.

One road for every request: read the body → authenticate → role-type and permission gate →
validate the body → run the handler in one transaction → JSON. Authentication comes first so an
anonymous caller learns nothing from validation errors. The few public verbs (signing in) skip
authentication and the gate: they are how a caller gets a token in the first place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from skyatlas.api.registry import Registry, Verb
from skyatlas.errors import InvalidParameter, PermissionDenied
from skyatlas.identity.caller import Caller, authenticate
from skyatlas.runtime import Ctx, Runtime


def json_response(content: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS),
        status_code=status,
        media_type="application/json",
    )


def bearer_token(request: Request) -> str | None:
    """`Authorization: Bearer <secret>` or `X-Auth-Token: <secret>` (both dialects' headers)."""
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    token = request.headers.get("x-auth-token")
    return token.strip() if token and token.strip() else None


def validation_message(exc: ValidationError) -> str:
    """Where and what, never the offending input (it may be a secret)."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{loc}: {err['msg']}")
    return "invalid request: " + "; ".join(parts[:10])


def parse_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(f"the body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidParameter("the body must be a JSON object")
    return payload


def run_verb(runtime: Runtime, verb: Verb, token: str | None, body: bytes) -> Any:
    return run_verb_as(runtime, verb, lambda conn: authenticate(conn, runtime.keys, token), body)


def run_verb_as(
    runtime: Runtime,
    verb: Verb,
    identify: Callable[[Connection], Caller],
    payload: dict[str, Any] | bytes,
) -> Any:
    """The one road of a verb, whoever calls: `identify` turns the transaction into a caller
    (from a client secret for the API, from a sign-in session for the web console). A raw body
    is parsed only once the caller is known, so an anonymous caller learns nothing from it."""
    if verb.public:
        return run_public_verb(
            runtime, verb, parse_body(payload) if isinstance(payload, bytes) else payload
        )
    with runtime.store.begin(write=verb.action == "write") as conn:
        caller = identify(conn)
        if caller.role_type not in verb.roles:
            raise PermissionDenied(
                f"{verb.operation_id} is not allowed for a {caller.role_type} {caller.kind}"
            )
        if not caller.may(verb.permission):
            raise PermissionDenied(
                f"the {caller.kind}'s role lacks the permission {verb.permission}"
            )
        if isinstance(payload, bytes):
            payload = parse_body(payload)
        try:
            request = verb.request.model_validate(payload)
        except ValidationError as exc:
            raise InvalidParameter(validation_message(exc)) from None
        ctx = Ctx(conn=conn, caller=caller, runtime=runtime)
        result = verb.handler(ctx, request)
    for callback in ctx.committed:
        callback()
    return result


def run_public_verb(runtime: Runtime, verb: Verb, payload: dict[str, Any]) -> Any:
    """A verb anyone may call (signing in): no token is read, so there is no caller and no
    role gate; the handler proves who it serves itself (a password, a refresh token).

    Nor is there one transaction around it (`ctx.conn` is None): the handler opens the short
    ones it needs, because a sign-in must commit a wrong password's count although it then
    fails, and on SQLite a surrounding writing transaction would hold the one write lock that
    needs.
    """
    try:
        request = verb.request.model_validate(payload)
    except ValidationError as exc:
        raise InvalidParameter(validation_message(exc)) from None
    ctx = Ctx(conn=None, caller=None, runtime=runtime)  # type: ignore[arg-type]
    result = verb.handler(ctx, request)
    for callback in ctx.committed:
        callback()
    return result


def verb_endpoint(runtime: Runtime, verb: Verb) -> Any:
    async def endpoint(request: Request) -> Response:
        body = await request.body()
        result = await run_in_threadpool(run_verb, runtime, verb, bearer_token(request), body)
        return json_response(result)

    endpoint.__name__ = verb.operation_id.replace(".", "_").replace("-", "_")
    return endpoint


def mount_verbs(app: Any, runtime: Runtime, registry: Registry) -> None:
    for verb in registry:
        app.add_route(verb.path, verb_endpoint(runtime, verb), methods=["POST"])
