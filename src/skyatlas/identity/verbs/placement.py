"""Where a role is given: the checks apps and role bindings share.

A role is given at the level its type implies: DOMAIN_ADMIN on the domain, WORKSPACE_OWNER on a
workspace, WORKSPACE_MEMBER on a workspace and exactly one of its projects or project groups.
Apps and role bindings name these levels differently (an app's member level is `PROJECT`, a
binding's is `WORKSPACE`), so the level is the caller's to say; the rules are the same.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from skyatlas.errors import InvalidParameter, PermissionDenied, not_found
from skyatlas.identity.roles import RoleType
from skyatlas.runtime import Ctx
from skyatlas.store.tables import project_groups, projects


def resolve_place(
    ctx: Ctx,
    *,
    kind: str,
    label: str,
    role_type: RoleType,
    group: str,
    requested_group: str | None,
    workspace_id: str | None,
    project_id: str | None,
    project_group_id: str | None,
) -> dict[str, Any]:
    """The columns that place a new `kind` (`app`, `role binding`) with a role of `role_type`
    at resource group `group`, after checking them against the request and the caller's
    reach. `label` names the thing in messages (`a PROJECT app (workspace member role)`)."""
    if requested_group is not None and requested_group != group:
        raise InvalidParameter(
            f"resource_group {requested_group} does not fit a {role_type} role; "
            f"a {role_type} {kind} is {group}-level"
        )
    place: dict[str, Any] = {
        "resource_group": group,
        "workspace_id": None,
        "project_id": None,
        "project_group_id": None,
    }
    if role_type is RoleType.DOMAIN_ADMIN:
        if not ctx.caller.is_admin:
            raise PermissionDenied(f"only a domain admin can create a domain-level {kind}")
        if workspace_id or project_id or project_group_id:
            raise InvalidParameter(f"{label} takes no workspace_id, project_id or project_group_id")
        return place
    workspace = ctx.caller.target_workspace(ctx.conn, workspace_id)
    place["workspace_id"] = workspace
    if role_type is RoleType.WORKSPACE_OWNER:
        if project_id or project_group_id:
            raise InvalidParameter(f"{label} takes no project_id or project_group_id")
        return place
    if bool(project_id) == bool(project_group_id):
        raise InvalidParameter(f"{label} needs exactly one of project_id or project_group_id")
    if project_id:
        found = ctx.conn.execute(
            select(projects.c.project_id).where(
                projects.c.project_id == project_id, projects.c.workspace_id == workspace
            )
        ).first()
        if found is None:
            raise not_found("project", "project_id", project_id)
        place["project_id"] = project_id
    else:
        found = ctx.conn.execute(
            select(project_groups.c.project_group_id).where(
                project_groups.c.project_group_id == project_group_id,
                project_groups.c.workspace_id == workspace,
            )
        ).first()
        if found is None:
            raise not_found("project group", "project_group_id", project_group_id or "")
        place["project_group_id"] = project_group_id
    return place
