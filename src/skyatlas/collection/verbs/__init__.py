"""The inventory service's collection verbs: collector, job, job-task."""

from skyatlas.api.registry import Registry


def register(registry: Registry) -> None:
    from skyatlas.collection.verbs import collector, job, job_task

    collector.register(registry)
    job.register(registry)
    job_task.register(registry)
