"""IAM users and roles, filed under the region `global`. One paginated
`GetAccountAuthorizationDetails` gives every user's and role's tags, groups and policies; the
plain listings add what it leaves out (a user's last console sign-in, a role's description and
session length); per user, access keys, MFA devices and the console password are read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from skyatlas.plugins.aws import links
from skyatlas.plugins.aws.errors import AWS_ERRORS, error_code
from skyatlas.plugins.aws.records import cloud_service, iso, name_of, tag_dict
from skyatlas.plugins.aws.scope import paginate
from skyatlas.plugins.aws.session import AwsSession
from skyatlas.plugins.aws.types import GLOBAL_REGION, IAM_ROLE, IAM_USER


class IamReader:
    """The account's authorization details, read once for both types."""

    def __init__(self, session: AwsSession) -> None:
        self.session = session
        self.client = session.client("iam", session.secret.region_name)
        self._details: dict[str, list[dict[str, Any]]] | None = None

    def details(self) -> dict[str, list[dict[str, Any]]]:
        if self._details is None:
            users: list[dict[str, Any]] = []
            roles: list[dict[str, Any]] = []
            pages = self.client.get_paginator("get_account_authorization_details").paginate(
                Filter=["User", "Role"]
            )
            for page in pages:
                users.extend(page.get("UserDetailList") or [])
                roles.extend(page.get("RoleDetailList") or [])
            self._details = {"users": users, "roles": roles}
        return self._details


def _policies(attached: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {"policy_name": p.get("PolicyName", ""), "policy_arn": p.get("PolicyArn", "")}
        for p in attached
    ]


def _optional(call: Any, default: Any) -> Any:
    try:
        return call()
    except AWS_ERRORS:
        return default


def collect_users(reader: IamReader) -> Iterator[dict[str, Any]]:
    client = reader.client
    session = reader.session
    account = session.account_id
    listed = {u["UserName"]: u for u in paginate(client, "list_users", "Users")}
    for user in reader.details()["users"]:
        name = user["UserName"]
        tags = tag_dict(user.get("Tags"))
        keys = paginate(client, "list_access_keys", "AccessKeyMetadata", UserName=name)
        mfa = paginate(client, "list_mfa_devices", "MFADevices", UserName=name)
        try:
            client.get_login_profile(UserName=name)
            console = True
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
            console = False
        access_keys = []
        for key in keys:
            key_id = key.get("AccessKeyId", "")
            used = _optional(
                lambda k=key_id: client.get_access_key_last_used(AccessKeyId=k).get(
                    "AccessKeyLastUsed", {}
                ),
                {},
            )
            access_keys.append(
                {
                    "access_key_id": key_id,
                    "status": key.get("Status", ""),
                    "create_date": iso(key.get("CreateDate")),
                    "last_used_date": iso(used.get("LastUsedDate")),
                    "last_used_service": used.get("ServiceName", ""),
                }
            )
        data = {
            "user_name": name,
            "user_id": user.get("UserId", ""),
            "arn": user["Arn"],
            "path": user.get("Path", "/"),
            "create_date": iso(user.get("CreateDate")),
            "password_last_used": iso(listed.get(name, {}).get("PasswordLastUsed")),
            "mfa_device_count": len(mfa),
            "access_key_count": len(access_keys),
            "access_keys": access_keys,
            "attached_policies": _policies(user.get("AttachedManagedPolicies") or []),
            "inline_policies": [p.get("PolicyName", "") for p in user.get("UserPolicyList") or []],
            "groups": list(user.get("GroupList") or []),
            "permissions_boundary": (user.get("PermissionsBoundary") or {}).get(
                "PermissionsBoundaryArn", ""
            ),
            "console_login_enabled": console,
            "account": account,
        }
        yield cloud_service(
            IAM_USER,
            name=name_of(tags, name),
            account=account,
            region=GLOBAL_REGION,
            resource_id=user["Arn"],
            external_link=links.iam_user(session.partition, name),
            data=data,
            tags=tags,
        )


def _document(raw: Any) -> dict[str, Any]:
    """A policy document: botocore usually decodes it; the API sends it URL-encoded."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw:
        try:
            value = json.loads(unquote(raw))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    return {}


def _principals(document: dict[str, Any], kind: str) -> list[str]:
    out: list[str] = []
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements:
        principal = st.get("Principal") if isinstance(st, dict) else None
        if isinstance(principal, dict):
            value = principal.get(kind)
            values = value if isinstance(value, list) else [value] if value else []
            out.extend(str(v) for v in values if str(v) not in out)
    return out


def _trust_policy(document: dict[str, Any]) -> dict[str, Any]:
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    actions: list[str] = []
    for st in statements:
        action = st.get("Action") if isinstance(st, dict) else None
        for a in action if isinstance(action, list) else [action] if action else []:
            if a not in actions:
                actions.append(str(a))
    services = _principals(document, "Service")
    return {
        "version": str(document.get("Version", "")),
        "principal_service": ",".join(services),
        "principal_services": services,
        "principal_aws": _principals(document, "AWS"),
        "principal_federated": _principals(document, "Federated"),
        "action": ",".join(actions),
        "document": document,
    }


def collect_roles(reader: IamReader) -> Iterator[dict[str, Any]]:
    session = reader.session
    account = session.account_id
    listed = {r["RoleName"]: r for r in paginate(reader.client, "list_roles", "Roles")}
    for role in reader.details()["roles"]:
        name = role["RoleName"]
        tags = tag_dict(role.get("Tags"))
        plain = listed.get(name, {})
        last_used = role.get("RoleLastUsed") or {}
        profiles = role.get("InstanceProfileList") or []
        data = {
            "role_name": name,
            "role_id": role.get("RoleId", ""),
            "arn": role["Arn"],
            "path": role.get("Path", "/"),
            "create_date": iso(role.get("CreateDate")),
            "description": plain.get("Description", ""),
            "max_session_duration": plain.get("MaxSessionDuration"),
            "trust_policy": _trust_policy(_document(role.get("AssumeRolePolicyDocument"))),
            "attached_policies": _policies(role.get("AttachedManagedPolicies") or []),
            "inline_policies": [p.get("PolicyName", "") for p in role.get("RolePolicyList") or []],
            "role_last_used": {
                "last_used_date": iso(last_used.get("LastUsedDate")),
                "region": last_used.get("Region", ""),
            },
            "permissions_boundary": (role.get("PermissionsBoundary") or {}).get(
                "PermissionsBoundaryArn", ""
            ),
            "instance_profile": profiles[0].get("Arn", "") if profiles else "",
            "account": account,
        }
        yield cloud_service(
            IAM_ROLE,
            name=name_of(tags, name),
            account=account,
            region=GLOBAL_REGION,
            resource_id=role["Arn"],
            external_link=links.iam_role(session.partition, name),
            data=data,
            tags=tags,
        )
