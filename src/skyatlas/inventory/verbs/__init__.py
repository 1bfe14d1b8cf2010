"""The inventory service's verbs, one module per resource."""

from skyatlas.api.registry import Registry


def register(registry: Registry) -> None:
    from skyatlas.inventory.verbs import cloud_service, cloud_service_type, region

    region.register(registry)
    cloud_service_type.register(registry)
    cloud_service.register(registry)
