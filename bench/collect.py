"""Collection benchmark: resources per second through the whole collection pipeline.

    .venv/bin/python bench/collect.py [--count 100000] [--backend sqlite|postgres|both]
                                      [--no-moto]

1. Ingest side alone: a collector whose plugin is a fast in-process source (the demo generator,
   `--count` records) runs through the real pipeline: validation of every record, upsert in
   batches, counters, reconcile. Run twice: the first run creates everything, the second
   updates everything (the steady state of a scheduled collector). Target: >= 10,000 resources/s.
   As a baseline in the same run, the same records go through `skyatlas import` (the bulk
   importer: same upsert, no collection bookkeeping), so the ratio shows what collection costs.
2. Full pipeline from a local AWS API: moto's server seeded (tests/aws_moto.py) with about 300
   resources of every type over two regions, collected by the `aws` plugin through the API and
   the job queue (moto answering over HTTP is the bottleneck here).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import inventory as inv

from skyatlas.plugins import PluginMetadata


class FastSource:
    """A collector plugin that yields generated records as fast as Python can make them."""

    metadata = PluginMetadata(
        plugin_id="bench-fast",
        kind="collector",
        name="generated records",
        description="benchmark source",
        provider="aws",
    )

    def __init__(self, count: int) -> None:
        from skyatlas.inventory.generator import generate_cloud_services

        # made before the clock starts: the source itself should cost nothing
        self.records = list(generate_cloud_services(count, seed=11))
        # A real source streams its records; this one holds them all. Frozen, they are left
        # out of the collector's full passes, which would otherwise walk every record of the
        # source on each pass and charge the ingest side for them (a fifth of a run's time).
        gc.freeze()

    def collect(self, ctx: Any) -> Iterator[dict[str, Any]]:
        for record in self.records:
            yield dict(record)


def _server(settings: Any) -> tuple[Any, Any, str]:
    import json

    from starlette.testclient import TestClient

    from skyatlas.api.app import create_app
    from skyatlas.cli.serve import prepare

    runtime, result = prepare(settings)
    token = json.loads(result["bootstrap"].path.read_text())["client_secret"]
    client = TestClient(create_app(runtime))
    return runtime, client, token


def _ok(client: Any, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    if r.status_code != 200:
        raise SystemExit(f"{path}: {r.status_code} {r.text}")
    return r.json()


def _account(client: Any, token: str, workspace_id: str, secret: dict[str, Any]) -> str:
    project = _ok(
        client, token, "/identity/project/create", {"name": "bench", "workspace_id": workspace_id}
    )["project_id"]
    return _ok(
        client,
        token,
        "/identity/service-account/create",
        {"name": "bench", "provider": "aws", "project_id": project, "secret_data": secret},
    )["service_account_id"]


def _collect(runtime: Any, client: Any, token: str, collector_id: str) -> dict[str, Any]:
    job = _ok(client, token, "/inventory/collector/collect", {"collector_id": collector_id})
    runtime.workers.drain()
    tasks = _ok(client, token, "/inventory/job-task/list", {"job_id": job["job_id"]})["results"]
    job = _ok(client, token, "/inventory/job/get", {"job_id": job["job_id"]})
    if job["status"] != "SUCCESS":
        raise SystemExit(f"job {job['job_id']} ended {job['status']}: {tasks}")
    return {k: sum(t[k] for t in tasks) for k in ("created_count", "updated_count")}


def fast_source(settings: Any, count: int) -> dict[str, Any]:
    import json

    runtime, client, token = _server(settings)
    runtime.plugins.register(FastSource(count))
    with client:
        runtime.workers.stop()  # the benchmark drains the queue itself, in this thread
        workspace_id = json.loads((settings.data_dir / "bootstrap.json").read_text())[
            "workspace_id"
        ]
        _account(client, token, workspace_id, {"token": "x"})
        collector_id = _ok(
            client,
            token,
            "/inventory/collector/create",
            {
                "name": "fast",
                "plugin_info": {"plugin_id": "bench-fast"},
                "workspace_id": workspace_id,
            },
        )["collector_id"]
        out: dict[str, Any] = {}
        for label in ("create", "update"):
            t0 = time.perf_counter()
            counts = _collect(runtime, client, token, collector_id)
            seconds = time.perf_counter() - t0
            out[label] = {"seconds": seconds, "per_second": count / seconds, **counts}
    runtime.close()
    gc.unfreeze()  # what was frozen with the source is freed as usual again
    return out


def import_baseline(settings: Any, count: int, workdir: Path) -> dict[str, Any]:
    import orjson

    from skyatlas.cli.serve import prepare
    from skyatlas.inventory.generator import generate_cloud_services
    from skyatlas.inventory.importer import import_cloud_services

    source = workdir / "baseline.jsonl"
    with source.open("wb") as fh:
        for record in generate_cloud_services(count, seed=11):
            fh.write(orjson.dumps(record) + b"\n")
    runtime, _ = prepare(settings)
    t0 = time.perf_counter()
    import_cloud_services(runtime.store, source, batch_size=500)
    seconds = time.perf_counter() - t0
    runtime.close()
    return {"seconds": seconds, "per_second": count / seconds}


def moto_pipeline(settings: Any) -> dict[str, Any]:
    import json

    import aws_moto

    with aws_moto.moto_server() as endpoint:
        summary = aws_moto.seed(endpoint)
        expected = sum(len(ids) for t in summary["resources"].values() for ids in t.values())
        runtime, client, token = _server(settings)
        with client:
            runtime.workers.stop()
            workspace_id = json.loads((settings.data_dir / "bootstrap.json").read_text())[
                "workspace_id"
            ]
            _account(client, token, workspace_id, dict(aws_moto.CREDENTIALS))
            collector_id = _ok(
                client,
                token,
                "/inventory/collector/create",
                {
                    "name": "aws",
                    "plugin_info": {
                        "plugin_id": "aws",
                        "options": {"regions": summary["regions"], "endpoint_url": endpoint},
                    },
                    "workspace_id": workspace_id,
                },
            )["collector_id"]
            t0 = time.perf_counter()
            counts = _collect(runtime, client, token, collector_id)
            seconds = time.perf_counter() - t0
        runtime.close()
    return {"resources": expected, "seconds": seconds, "per_second": expected / seconds, **counts}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--count", type=int, default=100_000)
    p.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    p.add_argument("--no-moto", action="store_true", help="Skip the moto (aws plugin) part.")
    p.add_argument("--pg-admin", default=f"host={inv.HOST} port=5432 user=postgres dbname=postgres")
    args = p.parse_args()

    from skyatlas.config import Settings

    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    print(f"collection benchmark: {args.count:,} generated records; cpu count {os.cpu_count()}")
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="skyatlas-bench-collect-") as tmp:
            work = Path(tmp)

            @contextlib.contextmanager
            def settings_for(
                name: str, backend: str = backend, work: Path = work
            ) -> Iterator[Settings]:
                """A fresh store per step (PostgreSQL: a fresh database, dropped after)."""
                if backend == "sqlite":
                    yield Settings(data_dir=work / name, workers=0)
                    return
                with inv.pg_database(args.pg_admin, False) as (url, _dsn):
                    yield Settings(data_dir=work / name, database_url=url, workers=0)

            with settings_for("fast") as settings:
                fast = fast_source(settings, args.count)
            with settings_for("import") as settings:
                base = import_baseline(settings, args.count, work)
            for label in ("create", "update"):
                r = fast[label]
                print(
                    f"[{backend}] collect ({label}): {r['seconds']:.1f} s, "
                    f"{r['per_second']:,.0f} resources/s (created {r['created_count']:,}, "
                    f"updated {r['updated_count']:,}); target >= 10,000/s"
                )
            print(
                f"[{backend}] baseline import (create): {base['seconds']:.1f} s, "
                f"{base['per_second']:,.0f} resources/s; collect/import time ratio "
                f"{fast['create']['seconds'] / base['seconds']:.2f}"
            )
            if not args.no_moto:
                with settings_for("moto") as settings:
                    m = moto_pipeline(settings)
                print(
                    f"[{backend}] aws plugin from moto: {m['resources']:,} resources in "
                    f"{m['seconds']:.1f} s = {m['per_second']:,.0f} resources/s "
                    f"(created {m['created_count']:,})"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
