"""KCRN: `kcrn:{region}:{project_id}:{service}:{resource_type}:{resource_id}`.

Every resource has one, derived from its own fields and never stored apart from them: region is
`region_code` (`global` when it has none), service and resource type are the cloud service group
and type, the resource id is the provider's id (`reference.resource_id`, or the cloud service id
for a resource that has none). A resource that belongs to no project has an empty project
segment. The resource id may itself contain `:` (AWS ARNs), so a KCRN is split into its first
five segments and the rest, whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skyatlas.errors import InvalidParameter

PREFIX = "kcrn"
GLOBAL_REGION = "global"
SEGMENTS = ("region", "project_id", "service", "resource_type", "resource_id")


@dataclass(frozen=True)
class Kcrn:
    region: str
    project_id: str
    service: str
    resource_type: str
    resource_id: str

    def __str__(self) -> str:
        return ":".join((PREFIX, *(getattr(self, s) for s in SEGMENTS)))

    @classmethod
    def of(cls, row: Any) -> Kcrn:
        """The KCRN of a `cloud_services` row (a mapping of its columns)."""
        return cls(
            region=row["region_code"] or GLOBAL_REGION,
            project_id=row["project_id"] or "",
            service=row["cloud_service_group"],
            resource_type=row["cloud_service_type"],
            resource_id=row["resource_id"] or row["cloud_service_id"],
        )


def split(text: str, *, what: str = "kcrn") -> tuple[str, ...]:
    """The five segments after `kcrn:`, the last one taking the rest of the string."""
    if not isinstance(text, str) or not text.startswith(PREFIX + ":"):
        raise InvalidParameter(
            f'{what} "{text}" must start with "kcrn:" '
            "(kcrn:{region}:{project_id}:{service}:{resource_type}:{resource_id})"
        )
    parts = text[len(PREFIX) + 1 :].split(":", len(SEGMENTS) - 1)
    if len(parts) < len(SEGMENTS):
        raise InvalidParameter(
            f'{what} "{text}" has {len(parts)} of the {len(SEGMENTS)} segments after "kcrn:" '
            "(region, project_id, service, resource_type, resource_id)"
        )
    return tuple(parts)


def parse(text: str) -> Kcrn:
    return Kcrn(*split(text))
