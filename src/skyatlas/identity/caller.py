"""Who is calling: authenticated from a client secret or a user's access token on every
request, scoped per request.

Nothing about the caller's reach is frozen in the token: the app or user row, its role (binding)
and, for members, the projects under its project group are read from the store each time, so a
disable, delete, rotate, password change, role change or project move takes effect on the very
next request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, select, true

from skyatlas.errors import AuthenticationFailed, NotFound, PermissionDenied
from skyatlas.identity.roles import RoleType, permissions_grant
from skyatlas.identity.tokens import (
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    InvalidToken,
    KeyCache,
    check_client_secret,
    verify_token,
)
from skyatlas.ids import utcnow
from skyatlas.store.tables import apps, project_groups, projects, roles, workspaces


@dataclass
class Caller:
    domain_id: str
    role_type: RoleType
    role_id: str
    permissions: tuple[str, ...] | None
    app_id: str
    workspace_id: str | None = None
    project_id: str | None = None
    project_group_id: str | None = None
    #: Set for a signed-in user (then `app_id` is `user:<user_id>`, for the records that name
    #: who did something).
    user_id: str | None = None
    _projects: frozenset[str] | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        """`user` or `app`, for messages that tell the caller what was refused."""
        return "user" if self.user_id is not None else "app"

    @property
    def is_admin(self) -> bool:
        return self.role_type is RoleType.DOMAIN_ADMIN

    @property
    def is_member(self) -> bool:
        return self.role_type is RoleType.WORKSPACE_MEMBER

    def may(self, permission: str) -> bool:
        return permissions_grant(self.permissions, permission)

    # -- scoping ---------------------------------------------------------------------------
    def workspace_clauses(
        self, column: ColumnElement[Any], requested: str | None = None
    ) -> list[ColumnElement[bool]]:
        """Rows of the caller's workspace (any workspace of the domain for a domain admin),
        narrowed to `requested` when the request names one."""
        clauses: list[ColumnElement[bool]] = []
        if not self.is_admin:
            clauses.append(column == self.workspace_id)
        if requested is not None:
            clauses.append(column == requested)
        return clauses

    def project_ids(self, conn: Connection) -> frozenset[str]:
        """A member's projects: its project, or every project under its group, recursively."""
        if self._projects is None:
            self._projects = frozenset(member_projects(conn, self))
        return self._projects

    def project_clauses(
        self, conn: Connection, column: ColumnElement[Any]
    ) -> list[ColumnElement[bool]]:
        if not self.is_member:
            return []
        return [column.in_(sorted(self.project_ids(conn)))]

    def target_workspace(self, conn: Connection, requested: str | None) -> str:
        """The workspace a new record goes to: the caller's own, or for a domain admin the one
        named in the request (which must exist in the domain)."""
        if not self.is_admin:
            if requested is not None and requested != self.workspace_id:
                raise NotFound(f"workspace not found (workspace_id={requested})")
            assert self.workspace_id is not None
            return self.workspace_id
        if requested is None:
            from skyatlas.errors import InvalidParameter

            raise InvalidParameter(
                f"workspace_id is required: a domain-level {self.kind} must say which workspace "
                "it means"
            )
        found = conn.execute(
            select(workspaces.c.workspace_id).where(
                workspaces.c.workspace_id == requested, workspaces.c.domain_id == self.domain_id
            )
        ).scalar_one_or_none()
        if found is None:
            raise NotFound(f"workspace not found (workspace_id={requested})")
        return requested

    def check_project(self, conn: Connection, project_id: str) -> None:
        """404 unless a member may act on this project (visibility is checked by the caller)."""
        if self.is_member and project_id not in self.project_ids(conn):
            raise NotFound(f"project not found (project_id={project_id})")


def descendant_groups(conn: Connection, workspace_id: str, roots: Iterable[str]) -> set[str]:
    """The given project groups and every group below them."""
    children: dict[str | None, list[str]] = {}
    for gid, parent in conn.execute(
        select(project_groups.c.project_group_id, project_groups.c.parent_group_id).where(
            project_groups.c.workspace_id == workspace_id
        )
    ):
        children.setdefault(parent, []).append(gid)
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        gid = stack.pop()
        if gid in seen:
            continue
        seen.add(gid)
        stack.extend(children.get(gid, ()))
    return seen


def member_projects(conn: Connection, caller: Caller) -> set[str]:
    if caller.project_id is not None:
        found = conn.execute(
            select(projects.c.project_id).where(
                projects.c.project_id == caller.project_id,
                projects.c.workspace_id == caller.workspace_id,
            )
        ).scalar_one_or_none()
        return {found} if found else set()
    if caller.project_group_id is not None and caller.workspace_id is not None:
        groups = descendant_groups(conn, caller.workspace_id, [caller.project_group_id])
        if not groups:
            return set()
        return set(
            conn.execute(
                select(projects.c.project_id).where(
                    projects.c.workspace_id == caller.workspace_id,
                    projects.c.project_group_id.in_(sorted(groups)),
                )
            ).scalars()
        )
    return set()


def authenticate(conn: Connection, keys: KeyCache, token: str | None) -> Caller:
    """The caller a token stands for: an app's client secret, or a user's access token."""
    if not token:
        raise AuthenticationFailed(
            "authentication required: send 'Authorization: Bearer <client_secret>' "
            "(or 'X-Auth-Token: <client_secret>'); a user sends its access token instead"
        )
    try:
        claims = verify_token(conn, keys, token)
        typ = claims.get("typ")
        if typ == REFRESH_TOKEN:
            raise InvalidToken(
                "a refresh token is accepted only by identity.token.grant; send an access token"
            )
        if typ == ACCESS_TOKEN:
            from skyatlas.identity.users import access_token_caller

            return access_token_caller(conn, claims)
        claims = check_client_secret(claims)
    except InvalidToken as exc:
        raise AuthenticationFailed(f"invalid token: {exc}") from None
    return _app_caller(conn, claims)


def _app_caller(conn: Connection, claims: dict[str, Any]) -> Caller:
    row = conn.execute(
        select(
            apps.c.app_id,
            apps.c.domain_id,
            apps.c.workspace_id,
            apps.c.state,
            apps.c.client_id,
            apps.c.expired_at,
            apps.c.role_id,
            apps.c.project_id,
            apps.c.project_group_id,
            roles.c.role_type,
            roles.c.permissions,
            workspaces.c.state.label("workspace_state"),
        )
        .select_from(
            apps.join(roles, roles.c.role_id == apps.c.role_id).outerjoin(
                workspaces, workspaces.c.workspace_id == apps.c.workspace_id
            )
        )
        .where(apps.c.app_id == claims["aud"], apps.c.domain_id == claims["did"], true())
    ).one_or_none()
    if row is None:
        raise AuthenticationFailed("invalid token: the app was deleted")
    if row.client_id != claims["jti"]:
        raise AuthenticationFailed("invalid token: the client secret was regenerated")
    if row.state != "ENABLED":
        raise AuthenticationFailed("invalid token: the app is disabled")
    if row.expired_at <= utcnow():
        raise AuthenticationFailed("invalid token: the app has expired")
    if row.workspace_id is not None and row.workspace_state != "ENABLED":
        raise PermissionDenied(f"workspace {row.workspace_id} is disabled")
    permissions = row.permissions
    return Caller(
        domain_id=row.domain_id,
        role_type=RoleType(row.role_type),
        role_id=row.role_id,
        permissions=tuple(permissions) if isinstance(permissions, list) else None,
        app_id=row.app_id,
        workspace_id=row.workspace_id,
        project_id=row.project_id,
        project_group_id=row.project_group_id,
    )
