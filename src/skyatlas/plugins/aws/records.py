"""The shape every collected resource shares (the body of `cloud-service create`), and the small
conversions every service module needs, so that tags, names and timestamps read the same
whatever service a record came from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from skyatlas.plugins.aws.types import PROVIDER, TypeKey


def tag_dict(tags: Iterable[Mapping[str, Any]] | Mapping[str, Any] | None) -> dict[str, str]:
    """AWS tags (`[{"Key": k, "Value": v}]`, or already `{k: v}` as Lambda returns them) as a flat
    `{k: v}`; a missing value becomes ""."""
    if not tags:
        return {}
    if isinstance(tags, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in tags.items()}
    out: dict[str, str] = {}
    for tag in tags:
        key = tag.get("Key")
        if key is not None:
            value = tag.get("Value")
            out[str(key)] = "" if value is None else str(value)
    return out


def name_of(tags: Mapping[str, str], natural: str) -> str:
    """The `Name` tag when it is set, else the resource's own name or id."""
    return tags.get("Name") or natural


def iso(value: Any, *, zone: bool = True) -> str | None:
    """A timestamp as ISO 8601 in UTC, whole seconds (`2024-01-31T09:15:00Z`; without the `Z`
    when `zone` is False, as the seed's `launched_at`). Strings pass through unchanged."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        text = value.replace(tzinfo=None, microsecond=0).isoformat()
        return f"{text}Z" if zone else text
    return str(value)


def cloud_service(
    key: TypeKey,
    *,
    name: str,
    account: str,
    region: str,
    resource_id: str,
    external_link: str,
    data: dict[str, Any],
    tags: Mapping[str, str],
    instance_type: str | None = None,
    instance_size: float | None = None,
    ip_addresses: Iterable[str] = (),
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "provider": PROVIDER,
        "cloud_service_group": key.group,
        "cloud_service_type": key.name,
        "name": name,
        "account": account,
        "region_code": region,
        "data": data,
        "tags": dict(tags),
        "reference": {"resource_id": resource_id, "external_link": external_link},
        "ip_addresses": list(dict.fromkeys(ip for ip in ip_addresses if ip)),
    }
    if instance_type:
        record["instance_type"] = instance_type
    if instance_size is not None:
        record["instance_size"] = float(instance_size)
    return record
