"""user create / update / enable / disable / delete / get / list / stat.

A user is a person who signs in with a password (apps are for programs). The password is kept
only as an argon2 hash and never returned; a password the server generates is shown once, in the
answer of create. What a user may do comes from its role bindings (`identity.role-binding`).

Domain admins manage users. A workspace owner may read the users bound to its workspace (it needs
them to manage that workspace's role bindings) and no others.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import ColumnElement, delete, select, update

from skyatlas.api.registry import Registry
from skyatlas.crud import field_set, param_conditions, render, stat_rows, verb_factory
from skyatlas.errors import Conflict, InvalidParameter, not_found
from skyatlas.identity.roles import ADMIN, ADMIN_OWNER
from skyatlas.identity.users import (
    UPDATE_PASSWORD,
    check_password_policy,
    generate_password,
    hash_password,
    insert_user,
    is_locked,
)
from skyatlas.ids import utcnow
from skyatlas.query.compile import FieldSet, json_field
from skyatlas.query.execute import run_list
from skyatlas.query.spaceone import parse_query
from skyatlas.runtime import Ctx
from skyatlas.schemas import Empty, Name, QueryParam, Request, StatRequest, StatResponse, Tags, Text
from skyatlas.store.tables import role_bindings, users

HIDDEN = ("password_hash", "failed_attempts", "locked_until", "tokens_valid_after")
_BASE = field_set(
    users, "user_id", exclude=(*HIDDEN, "required_actions"), keyword=("name", "email")
)
FIELDS = FieldSet(
    id_key=_BASE.id_key,
    columns={**_BASE.columns, "required_actions": json_field(users.c.required_actions, ())},
    prefixes=_BASE.prefixes,
    keyword=_BASE.keyword,
)

USER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+$")


def _user_id(value: str) -> str:
    if not USER_ID_PATTERN.match(value):
        raise ValueError(
            "a user_id starts with a letter or digit and holds only letters, digits and . _ @ + -"
        )
    return value


def _email(value: str) -> str:
    if not EMAIL_PATTERN.match(value):
        raise ValueError("not an email address (name@host)")
    return value


UserId = Annotated[
    str,
    Field(min_length=1, max_length=128, json_schema_extra={"pattern": USER_ID_PATTERN.pattern}),
    AfterValidator(_user_id),
]
Email = Annotated[
    str,
    Field(max_length=255, json_schema_extra={"pattern": EMAIL_PATTERN.pattern}),
    AfterValidator(_email),
]
#: Any string up to a bound; the password policy says what a new one must hold.
Password = Annotated[Text, Field(min_length=1, max_length=1024)]
State = Literal["ENABLED", "DISABLED"]


class UserCreate(Request):
    user_id: UserId
    password: Password | None = None
    name: Name | None = None
    email: Email | None = None
    tags: Tags = {}
    reset_password: bool = False


class UserUpdate(Request):
    user_id: UserId
    name: Name | None = None
    email: Email | None = None
    tags: Tags | None = None
    password: Password | None = None


class UserRef(Request):
    user_id: UserId


class UserList(Request):
    query: QueryParam = None
    user_id: UserId | None = None
    name: Name | None = None
    state: State | None = None
    email: Email | None = None


class UserInfo(BaseModel):
    user_id: str | None = None
    name: str | None = None
    email: str | None = None
    state: str | None = None
    required_actions: list[str] | None = None
    locked: bool | None = None
    tags: dict[str, str] | None = None
    domain_id: str | None = None
    last_accessed_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class UserCreated(UserInfo):
    password: str | None = Field(
        default=None,
        description="The generated password, shown this once (absent when one was given).",
    )


class UserListResponse(BaseModel):
    results: list[UserInfo]
    total_count: int


def to_record(row: Any) -> dict[str, Any]:
    record = render(row, hide=HIDDEN)
    record["required_actions"] = list(row.required_actions or [])
    record["locked"] = is_locked(row)
    return record


def scope(ctx: Ctx) -> list[ColumnElement[bool]]:
    """The domain's users; for a workspace owner only those bound to its workspace."""
    caller = ctx.caller
    clauses = [users.c.domain_id == caller.domain_id]
    if not caller.is_admin:
        clauses.append(
            users.c.user_id.in_(
                select(role_bindings.c.user_id).where(
                    role_bindings.c.domain_id == caller.domain_id,
                    role_bindings.c.workspace_id == caller.workspace_id,
                )
            )
        )
    return clauses


def get_user_row(ctx: Ctx, user_id: str) -> Any:
    row = ctx.conn.execute(
        select(users).where(users.c.user_id == user_id, *scope(ctx))
    ).one_or_none()
    if row is None:
        raise not_found("user", "user_id", user_id)
    return row


def _where(ctx: Ctx, user_id: str) -> tuple[ColumnElement[bool], ...]:
    return (users.c.domain_id == ctx.caller.domain_id, users.c.user_id == user_id)


def _not_yourself(ctx: Ctx, user_id: str, what: str) -> None:
    if ctx.caller.user_id == user_id:
        raise InvalidParameter(f"you cannot {what} the user you are signed in as")


def register(registry: Registry) -> None:
    verb = verb_factory(registry, "user")

    @verb("create", UserCreate, UserCreated, ADMIN, "Create a user")
    def create(ctx: Ctx, req: UserCreate) -> dict[str, Any]:
        """Create a local user. Without `password` (or with `reset_password: true`) the server
        generates one and returns it as `password`, this once; it is never shown again. A given
        password must have at least 8 characters, a letter and a digit. Every new user must
        change its password at first sign-in (`required_actions: ["UPDATE_PASSWORD"]`). The
        user can do nothing until it is given a role binding."""
        if req.password is not None and req.reset_password:
            raise InvalidParameter(
                "give either password or reset_password: true (generate one), not both"
            )
        exists = ctx.conn.execute(select(users.c.user_id).where(*_where(ctx, req.user_id))).first()
        if exists:
            raise Conflict(f"a user with user_id '{req.user_id}' already exists")
        generated = None
        if req.password is None:
            generated = generate_password()
        else:
            check_password_policy(req.password)
        now = utcnow()
        insert_user(
            ctx.conn,
            domain_id=ctx.caller.domain_id,
            user_id=req.user_id,
            password=generated or req.password or "",
            name=req.name,
            email=req.email,
            tags=req.tags,
            now=now,
        )
        record = to_record(get_user_row(ctx, req.user_id))
        if generated is not None:
            record["password"] = generated
        return record

    @verb("update", UserUpdate, UserInfo, ADMIN, "Update a user or reset its password")
    def update_(ctx: Ctx, req: UserUpdate) -> dict[str, Any]:
        """Change a user's name, email or tags. A new `password` is an admin's reset: it must
        meet the policy, the user must change it at next sign-in, any lockout is lifted, and
        the user's earlier tokens stop working."""
        row = get_user_row(ctx, req.user_id)
        now = utcnow()
        values: dict[str, Any] = {"updated_at": now}
        for name in ("name", "email", "tags"):
            if getattr(req, name) is not None:
                values[name] = getattr(req, name)
        if req.password is not None:
            check_password_policy(req.password)
            actions = list(row.required_actions or [])
            values.update(
                password_hash=hash_password(req.password),
                required_actions=[*actions, UPDATE_PASSWORD]
                if UPDATE_PASSWORD not in actions
                else actions,
                failed_attempts=0,
                locked_until=None,
                tokens_valid_after=now,
            )
        ctx.conn.execute(update(users).where(*_where(ctx, req.user_id)).values(values))
        return to_record(get_user_row(ctx, req.user_id))

    @verb("enable", UserRef, UserInfo, ADMIN, "Enable (and unlock) a user")
    def enable(ctx: Ctx, req: UserRef) -> dict[str, Any]:
        """Enable a user: it can sign in again. This also lifts a lockout after too many wrong
        passwords."""
        get_user_row(ctx, req.user_id)
        ctx.conn.execute(
            update(users)
            .where(*_where(ctx, req.user_id))
            .values(state="ENABLED", failed_attempts=0, locked_until=None, updated_at=utcnow())
        )
        return to_record(get_user_row(ctx, req.user_id))

    @verb("disable", UserRef, UserInfo, ADMIN, "Disable a user")
    def disable(ctx: Ctx, req: UserRef) -> dict[str, Any]:
        """Disable a user: it cannot sign in, and its tokens are refused (401) from the next
        request on."""
        get_user_row(ctx, req.user_id)
        _not_yourself(ctx, req.user_id, "disable")
        ctx.conn.execute(
            update(users)
            .where(*_where(ctx, req.user_id))
            .values(state="DISABLED", updated_at=utcnow())
        )
        return to_record(get_user_row(ctx, req.user_id))

    @verb("delete", UserRef, Empty, ADMIN, "Delete a user and its role bindings")
    def delete_(ctx: Ctx, req: UserRef) -> dict[str, Any]:
        """Delete a user with its role bindings; its tokens are refused (401) from the next
        request on."""
        get_user_row(ctx, req.user_id)
        _not_yourself(ctx, req.user_id, "delete")
        ctx.conn.execute(
            delete(role_bindings).where(
                role_bindings.c.domain_id == ctx.caller.domain_id,
                role_bindings.c.user_id == req.user_id,
            )
        )
        ctx.conn.execute(delete(users).where(*_where(ctx, req.user_id)))
        return {}

    @verb("get", UserRef, UserInfo, ADMIN_OWNER, "Get a user")
    def get(ctx: Ctx, req: UserRef) -> dict[str, Any]:
        """One user (never its password). A workspace owner sees only users bound to its
        workspace."""
        return to_record(get_user_row(ctx, req.user_id))

    @verb("list", UserList, UserListResponse, ADMIN_OWNER, "List users")
    def list_(ctx: Ctx, req: UserList) -> dict[str, Any]:
        """Users matching the query (filters `user_id`, `name`, `state`, `email`; keyword over
        user_id, name and email). A workspace owner sees only users bound to its workspace."""
        params = req.model_dump(exclude={"query"}, exclude_none=True)
        query = parse_query(req.query).with_filters(*param_conditions(params))
        # The page's rows are fetched by user_id, which is unique per domain only: refilter.
        return run_list(
            ctx.conn, users, FIELDS, query, to_record, scope=scope(ctx), refilter_page=True
        )

    @verb("stat", StatRequest, StatResponse, ADMIN_OWNER, "Aggregate users")
    def stat(ctx: Ctx, req: StatRequest) -> dict[str, Any]:
        """distinct values or an aggregate pipeline over the visible users."""
        return stat_rows(ctx.conn, users, FIELDS, req.query, scope(ctx))
