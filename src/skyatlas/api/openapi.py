"""The OpenAPI 3.1 document, generated from the verb registry.

Built by hand rather than by FastAPI's route introspection because verbs are registry entries,
not typed route functions: each gets its request model, response model, the role types that may
call it, its permission string, and every error status it can answer with.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from skyatlas import __version__
from skyatlas.api.registry import Registry

_ERROR_STATUSES = {
    "400": "Invalid request: bad body, filter, operator, value type or field",
    "401": "No token, or an invalid, expired, revoked or rotated one",
    "403": "The app's role may not call this verb or reach this project",
    "404": "No such record, or one the caller cannot see (the same answer for both)",
    "409": "Conflicts with an existing record",
    "413": "Body larger than the server's limit",
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}


EXPLORER_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"type": "boolean", "const": False},
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}


def build_openapi(registry: Registry) -> dict[str, Any]:
    from skyatlas.explorer.routes import OPERATIONS

    models: list[tuple[type[BaseModel], Any]] = []
    seen: set[tuple[type[BaseModel], str]] = set()
    pairs = [(v.request, v.response) for v in registry]
    pairs += [(op.request, op.response) for op in OPERATIONS]
    for request, response in pairs:
        for model, mode in ((request, "validation"), (response, "serialization")):
            if model is not None and (model, mode) not in seen:
                seen.add((model, mode))
                models.append((model, mode))
    refs, defs = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas = dict(defs.get("$defs", {}))
    schemas["Error"] = ERROR_SCHEMA
    schemas["ExplorerError"] = EXPLORER_ERROR_SCHEMA

    paths: dict[str, Any] = {}
    for verb in registry:
        responses: dict[str, Any] = {
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {
                        "schema": refs[(verb.response, "serialization")]
                        if verb.response is not None
                        else {"type": "object"}
                    }
                },
            }
        }
        for status, text in _ERROR_STATUSES.items():
            responses[status] = {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        roles = ", ".join(sorted(r.value for r in verb.roles))
        access = (
            "No authentication: anyone may call it (it is how a user gets a token)."
            if verb.public
            else f"Allowed role types: {roles}. "
            f"Custom roles need the permission `{verb.permission}`."
        )
        paths[verb.path] = {
            "post": {
                "operationId": verb.operation_id,
                "tags": [verb.service],
                "summary": verb.summary,
                "description": f"{verb.description}\n\n{access}",
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": refs[(verb.request, "validation")]}},
                },
                "responses": responses,
                "security": [] if verb.public else [{"bearer": []}, {"token": []}],
            }
        }
    for op in OPERATIONS:
        responses = {
            str(op.status): {
                "description": "OK" if op.status == 200 else "Accepted",
                "content": {"application/json": {"schema": refs[(op.response, "serialization")]}},
            }
        }
        for status, text in _ERROR_STATUSES.items():
            responses[status] = {
                "description": text,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ExplorerError"}}
                },
            }
        entry: dict[str, Any] = {
            "operationId": "explorer." + op.path.strip("/").replace("/", "."),
            "tags": ["resource-explorer"],
            "summary": op.summary,
            "description": f"{op.description}\n\nCustom roles need `{op.permission}`.",
            "responses": responses,
            "security": [{"token": []}, {"bearer": []}],
        }
        if op.request is not None:
            entry["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": refs[(op.request, "validation")]}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    paths["/check"] = {
        "get": {
            "operationId": "check",
            "summary": "Health check",
            "description": 'Answers `{"status": "SERVING"}` when the server is up. No auth.',
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["status"],
                                "properties": {"status": {"type": "string"}},
                            }
                        }
                    },
                }
            },
            "security": [],
        }
    }
    paths["/api/reflection"] = {
        "get": {
            "operationId": "reflection",
            "summary": "Every service, resource and verb",
            "description": "Used by the CLI to discover commands. No auth.",
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
            "security": [],
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "skyatlas",
            "version": __version__,
            "description": (
                "The SpaceONE (Cloudforet) API dialect: `POST /{service}/{resource}/{verb}` with "
                "`Authorization: Bearer <client_secret>` (or `X-Auth-Token`), or a user's access "
                "token from `identity.token.issue`; errors are "
                '`{"detail": {"code", "message"}}`. The Resource Explorer dialect: `/api/v1/…` '
                "with `X-Auth-Token` (or Bearer); errors are "
                '`{"success": false, "error": {"code", "message"}}`.'
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
            },
        },
    }
