"""The verb registry: `(service, resource, verb)` → handler, request model, allowed role types.

Routes, the OpenAPI document, `/api/reflection` and the CLI's command list are all generated
from it, so adding a verb is one `@registry.verb(...)` and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from skyatlas.identity.roles import RoleType, permission_for
from skyatlas.runtime import Ctx

READ_VERBS = frozenset({"get", "list", "stat", "analyze"})
Handler = Callable[[Ctx, Any], Any]


@dataclass(frozen=True)
class Verb:
    service: str
    resource: str
    verb: str
    handler: Handler
    request: type[BaseModel]
    response: type[BaseModel] | None
    roles: frozenset[RoleType]
    summary: str
    description: str
    #: Callable without a token (signing in): no authentication, no role or permission gate.
    public: bool = False

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.resource}/{self.verb}"

    @property
    def action(self) -> Literal["read", "write"]:
        return "read" if self.verb in READ_VERBS else "write"

    @property
    def permission(self) -> str:
        return permission_for(self.service, self.resource, self.action)

    @property
    def operation_id(self) -> str:
        return f"{self.service}.{self.resource}.{self.verb}"


class Registry:
    """All verbs of one application instance."""

    def __init__(self) -> None:
        self._verbs: dict[tuple[str, str, str], Verb] = {}

    def verb(
        self,
        service: str,
        resource: str,
        verb: str,
        *,
        request: type[BaseModel],
        response: type[BaseModel] | None,
        roles: frozenset[RoleType],
        summary: str,
        public: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            key = (service, resource, verb)
            if key in self._verbs:
                raise ValueError(f"verb {key} registered twice")
            doc = (handler.__doc__ or "").strip()
            if not doc:
                raise ValueError(f"verb {key} has no description (handler docstring)")
            self._verbs[key] = Verb(
                service=service,
                resource=resource,
                verb=verb,
                handler=handler,
                request=request,
                response=response,
                roles=roles,
                summary=summary,
                description=doc,
                public=public,
            )
            return handler

        return register

    def get(self, service: str, resource: str, verb: str) -> Verb | None:
        return self._verbs.get((service, resource, verb))

    def __iter__(self) -> Iterator[Verb]:
        return iter(sorted(self._verbs.values(), key=lambda v: v.path))

    def __len__(self) -> int:
        return len(self._verbs)

    def reflection(self) -> dict[str, Any]:
        """`/api/reflection`: every service, its resources and their verbs."""
        services: dict[str, dict[str, list[str]]] = {}
        for v in self:
            services.setdefault(v.service, {}).setdefault(v.resource, []).append(v.verb)
        return {
            "services": [
                {
                    "name": service,
                    "resources": [
                        {"name": resource, "verbs": sorted(verbs)}
                        for resource, verbs in sorted(resources.items())
                    ],
                }
                for service, resources in sorted(services.items())
            ]
        }
