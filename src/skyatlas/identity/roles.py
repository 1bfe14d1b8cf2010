"""Role types, the managed roles and how a custom role's permission strings are matched."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from enum import StrEnum


class RoleType(StrEnum):
    DOMAIN_ADMIN = "DOMAIN_ADMIN"
    WORKSPACE_OWNER = "WORKSPACE_OWNER"
    WORKSPACE_MEMBER = "WORKSPACE_MEMBER"


ALL_ROLE_TYPES = frozenset(RoleType)
ADMIN = frozenset({RoleType.DOMAIN_ADMIN})
ADMIN_OWNER = frozenset({RoleType.DOMAIN_ADMIN, RoleType.WORKSPACE_OWNER})

MANAGED_ROLE_IDS = {
    RoleType.DOMAIN_ADMIN: "managed-domain-admin",
    RoleType.WORKSPACE_OWNER: "managed-workspace-owner",
    RoleType.WORKSPACE_MEMBER: "managed-workspace-member",
}

#: `service:Resource.action`, e.g. `inventory:CloudService.read`; `*` is a wildcard and a
#: permission that ends at a `:` or `.` boundary is a prefix (`inventory:` = all of inventory).
PERMISSION_PATTERN = re.compile(
    r"^(?:[a-z*][a-z0-9*-]*:(?:[A-Za-z*][A-Za-z0-9*]*(?:\.(?:read|write|\*))?)?"
    r"|\*(?:\.(?:read|write))?)$"
)


def resource_title(resource: str) -> str:
    """`cloud-service` → `CloudService`: the resource part of a permission string."""
    return "".join(part.capitalize() for part in resource.split("-"))


def permission_for(service: str, resource: str, action: str) -> str:
    return f"{service}:{resource_title(resource)}.{action}"


def permission_grants(granted: str, required: str) -> bool:
    if "*" in granted:
        return fnmatch.fnmatchcase(required, granted) or fnmatch.fnmatchcase(
            required, granted + ".*"
        )
    if granted == required:
        return True
    return required.startswith(granted) and (
        granted.endswith((":", ".")) or required[len(granted)] in ":."
    )


def permissions_grant(permissions: Iterable[str] | None, required: str) -> bool:
    """None means a managed role: unrestricted within its role type."""
    if permissions is None:
        return True
    return any(permission_grants(p, required) for p in permissions)


def is_read_only(permissions: Iterable[str] | None) -> bool:
    """A custom role whose permissions are all `.read` (the Resource Explorer "Reader")."""
    if permissions is None:
        return False
    perms = list(permissions)
    return all(p.endswith(".read") for p in perms)
