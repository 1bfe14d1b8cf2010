"""The inventory service's verbs, one module per resource."""

from skyatlas.api.registry import Registry


def register(registry: Registry) -> None:
    from skyatlas.inventory.verbs import region

    region.register(registry)
