"""The cost-analysis service's verbs."""

from __future__ import annotations

from skyatlas.api.registry import Registry


def register(registry: Registry) -> None:
    from skyatlas.cost.verbs import budget, cost, data_source, job

    data_source.register(registry)
    cost.register(registry)
    job.register(registry)
    budget.register(registry)
