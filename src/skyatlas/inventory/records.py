"""Cloud service records: from a create body to table rows, and from a row to the API shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlalchemy import Row

from skyatlas.errors import InvalidParameter
from skyatlas.ids import iso
from skyatlas.inventory.collection_marks import UNCOLLECTED

KEY_SEPARATOR = "\x1f"
#: The fields `minimal: true` keeps.
MINIMAL = (
    "cloud_service_id",
    "name",
    "cloud_service_group",
    "cloud_service_type",
    "provider",
    "reference.resource_id",
    "region_code",
    "project_id",
)


def upsert_key(
    provider: str, group: str, type_: str, account: str | None, resource_id: str | None
) -> str | None:
    """The collection key (provider, group, type, account, reference.resource_id); a resource
    without a provider id has none and is never merged with another."""
    if not resource_id:
        return None
    return KEY_SEPARATOR.join((provider, group, type_, account or "", resource_id))


def normalise_tags(provider: str, tags: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """Tags arrive nested by provider (`{"aws": {"Name": "web"}}`, as records show them) or flat
    (`{"Name": "web"}`, taken as the resource's own provider's)."""
    if not tags:
        return {}
    if provider == "custom":
        raise InvalidParameter("tags.custom is managed through the tags API")
    values = list(tags.values())
    if all(isinstance(v, dict) for v in values):
        nested: dict[str, dict[str, str]] = {}
        for prov, kv in tags.items():
            if prov == "custom":
                raise InvalidParameter("tags.custom is managed through the tags API")
            nested[prov] = {str(k): _tag_value(v) for k, v in kv.items()}
        return nested
    if any(isinstance(v, dict) for v in values):
        raise InvalidParameter(
            "tags must be either {key: value} or {provider: {key: value}}, not a mix"
        )
    return {provider: {str(k): _tag_value(v) for k, v in tags.items()}}


def _tag_value(value: Any) -> str:
    if isinstance(value, (dict, list)):  # a tuple: no union type built per call
        raise InvalidParameter("tag values must be strings")
    return "" if value is None else str(value)


def search_text(
    cloud_service_id: str,
    name: str | None,
    ip_addresses: list[str],
    group: str,
    type_: str,
    resource_id: str | None,
) -> str:
    """What keyword tokens match: name, ids, IPs, group and type, folded to lower case once."""
    parts = [cloud_service_id, name or "", *ip_addresses, group, type_, resource_id or ""]
    return "\n".join(parts).lower()


class TagScope(NamedTuple):
    """What a tag row repeats of its resource: where it lives and whether searches see it."""

    domain_id: str
    workspace_id: str
    project_id: str | None
    visible: bool


def tag_rows(
    cloud_service_id: str, tags: dict[str, dict[str, str]], scope: TagScope
) -> list[dict[str, Any]]:
    """The tag-index rows of a resource. Of several providers giving it the same key=value,
    the first by name is the one row that counts the resource for that pair."""
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for provider in sorted(tags):
        for key, value in tags[provider].items():
            rows.append(
                {
                    "cloud_service_id": cloud_service_id,
                    "provider": provider,
                    "key": key,
                    "value": value,
                    "domain_id": scope.domain_id,
                    "workspace_id": scope.workspace_id,
                    "project_id": scope.project_id,
                    "visible": scope.visible,
                    "first_provider": (key, value) not in seen,
                }
            )
            seen.add((key, value))
    return rows


def tag_keys(cloud_service_id: str, tags: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    """The primary keys of a resource's tag-index rows (what removing them needs)."""
    return [
        {"cloud_service_id": cloud_service_id, "provider": prov, "key": k, "value": v}
        for prov, kv in tags.items()
        for k, v in kv.items()
    ]


def to_record(row: Row[Any] | Mapping[str, Any]) -> dict[str, Any]:
    m = row._mapping if isinstance(row, Row) else row
    tags = m["tags"] or {}
    return {
        "cloud_service_id": m["cloud_service_id"],
        "name": m["name"],
        "state": m["state"],
        "account": m["account"],
        "instance_type": m["instance_type"],
        "instance_size": m["instance_size"],
        "ip_addresses": m["ip_addresses"] or [],
        "cloud_service_type": m["cloud_service_type"],
        "cloud_service_group": m["cloud_service_group"],
        "provider": m["provider"],
        "data": m["data"],
        "metadata": m["metadata"],
        "reference": {"resource_id": m["resource_id"], "external_link": m["external_link"]},
        "tags": tags,
        "tag_keys": {prov: sorted(kv) for prov, kv in tags.items()},
        # Kept in its own table: `collection_marks.add_collection_info` fills it for a page.
        "collection_info": dict(UNCOLLECTED),
        "region_code": m["region_code"],
        "domain_id": m["domain_id"],
        "workspace_id": m["workspace_id"],
        "project_id": m["project_id"],
        "created_at": iso(m["created_at"]),
        "updated_at": iso(m["updated_at"]),
        "deleted_at": iso(m["deleted_at"]),
    }
