"""The ASGI application: SpaceONE verbs, Resource Explorer routes, health check, reflection,
OpenAPI and offline docs; and the workers that apply queued jobs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from skyatlas import __version__
from skyatlas.api.docs import SWAGGER_DIR, docs_page
from skyatlas.api.errors_body import error_body, is_explorer
from skyatlas.api.limits import BodySizeLimit
from skyatlas.api.openapi import build_openapi
from skyatlas.api.registry import Registry
from skyatlas.api.transport import json_response, mount_verbs
from skyatlas.console import mount_console
from skyatlas.errors import SkyatlasError
from skyatlas.explorer.routes import mount_explorer
from skyatlas.jobs.wiring import build_workers
from skyatlas.runtime import Runtime

log = logging.getLogger("skyatlas.api")

_HTTP_CODES = {404: "ERROR_NOT_FOUND", 405: "ERROR_METHOD_NOT_ALLOWED"}


def build_registry() -> Registry:
    """Every service's verbs. Services register themselves; nothing here knows their verbs."""
    from skyatlas.collection.verbs import register as register_collection
    from skyatlas.cost.verbs import register as register_cost
    from skyatlas.identity.verbs import register as register_identity
    from skyatlas.inventory.verbs import register as register_inventory

    registry = Registry()
    register_identity(registry)
    register_inventory(registry)
    register_collection(registry)
    register_cost(registry)
    return registry


def create_app(runtime: Runtime, registry: Registry | None = None) -> FastAPI:
    registry = registry or build_registry()
    runtime.workers = runtime.workers or build_workers(runtime, runtime.settings.workers)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.workers.start()
        try:
            yield
        finally:
            runtime.workers.stop()

    app = FastAPI(
        title="skyatlas",
        version=__version__,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.registry = registry
    openapi_doc = build_openapi(registry)

    @app.exception_handler(SkyatlasError)
    async def _skyatlas_error(request: Request, exc: SkyatlasError) -> Response:
        return json_response(error_body(exc.code, exc.message, request.url.path), exc.status)

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, _exc: IntegrityError) -> Response:
        # Two requests raced past the same uniqueness check; the loser's change is rolled back.
        return json_response(
            error_body(
                "ERROR_CONFLICT", "the change conflicts with an existing record", request.url.path
            ),
            409,
        )

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> Response:
        # A value the database itself refuses: the request is at fault and nothing of it was
        # applied. The driver's one-line reason is safe to show; the statement is not.
        diag = getattr(getattr(exc.orig, "diag", None), "message_primary", None)
        reason = f": {diag}" if diag else ""
        return json_response(
            error_body(
                "ERROR_INVALID_PARAMETER",
                f"a value in the request cannot be used by the store{reason}; nothing changed",
                request.url.path,
            ),
            400,
        )

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> Response:
        # Only a locked or unreachable store is worth a retry; any other operational error is
        # a defect and is reported as one (logged, 500), not disguised as "busy".
        reason = str(exc.orig).lower()
        if exc.connection_invalidated or any(
            word in reason for word in ("locked", "busy", "connection", "timeout")
        ):
            log.error("store unavailable: %s", exc.orig.__class__.__name__)
            return json_response(
                error_body(
                    "ERROR_UNAVAILABLE",
                    "the store is busy or unreachable; retry shortly",
                    request.url.path,
                ),
                503,
            )
        log.exception("store error")
        return json_response(error_body("ERROR_INTERNAL", "internal error", request.url.path), 500)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "ERROR_HTTP")
        path = request.url.path
        missing = "no such endpoint" if is_explorer(path) else "no such service, resource or verb"
        message = missing if exc.status_code == 404 else exc.detail
        return json_response(error_body(code, str(message), path), exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        return json_response(error_body("ERROR_INTERNAL", "internal error", request.url.path), 500)

    async def check(_request: Request) -> Response:
        return json_response({"status": "SERVING"})

    async def reflection(_request: Request) -> Response:
        return json_response(registry.reflection())

    async def openapi(_request: Request) -> Response:
        return json_response(openapi_doc)

    app.add_route("/check", check, methods=["GET"])
    app.add_route("/api/reflection", reflection, methods=["GET"])
    app.add_route("/openapi.json", openapi, methods=["GET"])
    app.add_route("/docs", docs_page, methods=["GET"])
    app.mount("/static/swagger", StaticFiles(directory=SWAGGER_DIR), name="swagger")
    mount_verbs(app, runtime, registry)
    mount_explorer(app, runtime)
    mount_console(app, runtime, registry)
    app.add_middleware(BodySizeLimit, max_bytes=runtime.settings.max_body_bytes)
    return app
