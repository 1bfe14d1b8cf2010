"""What verbs a server has, from its `/api/reflection`, cached per endpoint.

The cache makes `--help` and shell completion work without a request, and saves one round trip
per command. A lookup that misses (a verb the cache does not know) refreshes it once, so a
server that gained verbs is picked up without any flag.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyatlas.cli.settings import cache_dir


def _cache_path(endpoint: str) -> Path:
    digest = hashlib.sha256(endpoint.encode()).hexdigest()[:16]
    return cache_dir() / f"reflection-{digest}.json"


def pascal(kebab: str) -> str:
    """`cloud-service` → `CloudService` (cfctl writes resources this way)."""
    return "".join(part[:1].upper() + part[1:] for part in kebab.split("-"))


def _norm(name: str) -> str:
    return re.sub(r"[-_\s]", "", name).lower()


@dataclass(frozen=True)
class Catalog:
    """service → resource (kebab) → verbs."""

    services: dict[str, dict[str, list[str]]]

    @classmethod
    def from_reflection(cls, payload: dict[str, Any]) -> Catalog:
        services: dict[str, dict[str, list[str]]] = {}
        for service in payload.get("services", []):
            resources = services.setdefault(service["name"], {})
            for resource in service.get("resources", []):
                resources[resource["name"]] = list(resource.get("verbs", []))
        return cls(services)

    def to_reflection(self) -> dict[str, Any]:
        return {
            "services": [
                {"name": s, "resources": [{"name": r, "verbs": v} for r, v in res.items()]}
                for s, res in self.services.items()
            ]
        }

    def resource(self, service: str, name: str) -> str | None:
        """The kebab name of a resource written as `CloudService`, `cloud-service`, …"""
        wanted = _norm(name)
        for resource in self.services.get(service, {}):
            if _norm(resource) == wanted:
                return resource
        return None

    def verb(self, service: str, resource: str, name: str) -> str | None:
        wanted = _norm(name)
        for verb in self.services.get(service, {}).get(resource, []):
            if _norm(verb) == wanted:
                return verb
        return None


def cached(endpoint: str) -> Catalog | None:
    """The cached catalog, or None when there is none or it is unreadable in any way."""
    try:
        return Catalog.from_reflection(json.loads(_cache_path(endpoint).read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def store(endpoint: str, catalog: Catalog) -> None:
    path = _cache_path(endpoint)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(catalog.to_reflection()), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a cache that cannot be written only costs a request next time


def all_cached_services() -> list[str]:
    """Service names from every cached endpoint (for `--help` and completion; no request)."""
    names: set[str] = set()
    try:
        files = list(cache_dir().glob("reflection-*.json"))
    except OSError:
        return []
    for path in files:
        try:
            names.update(s["name"] for s in json.loads(path.read_text("utf-8"))["services"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return sorted(names)


def fetch(client: Any, endpoint: str) -> Catalog:
    catalog = Catalog.from_reflection(client.reflection())
    store(endpoint, catalog)
    return catalog
