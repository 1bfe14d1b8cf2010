"""The identity service's verbs, one module per resource."""

from skyatlas.api.registry import Registry


def register(registry: Registry) -> None:
    from skyatlas.identity.verbs import (
        app,
        domain,
        project,
        project_group,
        role,
        role_binding,
        service_account,
        token,
        user,
        workspace,
    )

    for module in (
        domain,
        workspace,
        project_group,
        project,
        role,
        app,
        service_account,
        user,
        role_binding,
        token,
    ):
        module.register(registry)
