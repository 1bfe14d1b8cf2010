"""token issue / grant: how a user signs in to the API. Both are public (no token needed), and
run without a surrounding transaction (`ctx.conn` is None; see `run_public_verb`).

`issue` trades a user_id and password for an access token (30 minutes) and a refresh token
(8 hours); `grant` trades the refresh token for an access token to another scope (the domain,
or a workspace). The access token then works as `Authorization: Bearer` on every verb.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from skyatlas.api.registry import Registry
from skyatlas.crud import verb_factory
from skyatlas.errors import InvalidParameter
from skyatlas.identity.roles import ALL_ROLE_TYPES
from skyatlas.identity.users import (
    authenticate_password,
    caller_for,
    default_domain,
    issue_access_token,
    issue_refresh_token,
    refresh_token_user,
    sign_in_caller,
)
from skyatlas.identity.verbs.user import Password, UserId
from skyatlas.runtime import Ctx
from skyatlas.schemas import Id, Request, Text


class TokenIssue(Request):
    user_id: UserId
    password: Password
    domain_id: Id | None = None


class TokenIssued(BaseModel):
    access_token: str
    refresh_token: str
    required_actions: list[str]


class TokenGrant(Request):
    grant_type: Literal["REFRESH_TOKEN"]
    token: Annotated[Text, Field(min_length=1, max_length=8192)]
    scope: Literal["DOMAIN", "WORKSPACE"]
    workspace_id: Id | None = None


class TokenGranted(BaseModel):
    access_token: str
    role_type: str
    workspace_id: str | None


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "token")

    @verb(
        "issue",
        TokenIssue,
        TokenIssued,
        ALL_ROLE_TYPES,
        "Sign in: trade a user's password for tokens",
        public=True,
    )
    def issue(ctx: Ctx, req: TokenIssue) -> dict[str, Any]:
        """Sign a user in with `user_id` and `password` (`domain_id` defaults to the store's
        only domain). The access token is for the domain if the user is a domain admin, else for
        its first workspace by name; `identity.token.grant` moves to another scope. A user with
        no role binding is refused (403). `required_actions` lists what the user must still do
        (e.g. `UPDATE_PASSWORD`). Ten wrong passwords in a row lock the user for 5 minutes."""
        runtime = ctx.runtime
        with runtime.store.read() as conn:
            domain_id = default_domain(conn, req.domain_id)
        # Commits on its own: a wrong password must be counted although this request fails.
        user = authenticate_password(runtime, domain_id, req.user_id, req.password)
        with runtime.store.read() as conn:
            caller = sign_in_caller(conn, user)
            return {
                "access_token": issue_access_token(conn, runtime.sealer, caller),
                "refresh_token": issue_refresh_token(conn, runtime.sealer, domain_id, user.user_id),
                "required_actions": list(user.required_actions or []),
            }

    @verb(
        "grant",
        TokenGrant,
        TokenGranted,
        ALL_ROLE_TYPES,
        "Trade a refresh token for an access token to a scope",
        public=True,
    )
    def grant(ctx: Ctx, req: TokenGrant) -> dict[str, Any]:
        """Trade a refresh token (`grant_type: REFRESH_TOKEN`) for an access token to the
        domain (`scope: DOMAIN`, domain admins only) or to a workspace (`scope: WORKSPACE` with
        `workspace_id`, where the user needs a role binding, or is a domain admin and acts as
        the owner). A refresh token dies with its user, when the user is disabled, and when its
        password changes."""
        if req.scope == "WORKSPACE" and req.workspace_id is None:
            raise InvalidParameter("workspace_id is required for scope WORKSPACE")
        if req.scope == "DOMAIN" and req.workspace_id is not None:
            raise InvalidParameter("scope DOMAIN takes no workspace_id")
        with ctx.runtime.store.read() as conn:
            user = refresh_token_user(conn, ctx.runtime.keys, req.token)
            caller = caller_for(
                conn, user, workspace_id=req.workspace_id, admin_mode=req.scope == "DOMAIN"
            )
            return {
                "access_token": issue_access_token(conn, ctx.runtime.sealer, caller),
                "role_type": caller.role_type.value,
                "workspace_id": caller.workspace_id,
            }
