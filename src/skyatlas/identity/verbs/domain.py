"""domain get: the caller's own domain."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from skyatlas.api.registry import Registry
from skyatlas.crud import fetch_one, render
from skyatlas.identity.roles import ALL_ROLE_TYPES
from skyatlas.runtime import Ctx
from skyatlas.schemas import Request
from skyatlas.store.tables import domains


class DomainGet(Request):
    pass


class DomainInfo(BaseModel):
    domain_id: str | None = None
    name: str | None = None
    state: str | None = None
    tags: dict[str, str] | None = None
    created_at: str | None = None
    updated_at: str | None = None


def register(registry: Registry) -> None:
    @registry.verb(
        "identity",
        "domain",
        "get",
        request=DomainGet,
        response=DomainInfo,
        roles=ALL_ROLE_TYPES,
        summary="Get the caller's domain",
    )
    def get(ctx: Ctx, req: DomainGet) -> dict[str, Any]:
        """The domain the caller's client secret belongs to (one domain per store)."""
        caller = ctx.caller
        row = fetch_one(ctx.conn, domains, "domain_id", caller.domain_id, [], "domain")
        return render(row)
