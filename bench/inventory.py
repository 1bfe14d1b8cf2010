#!/usr/bin/env python3
"""End-to-end inventory benchmark: generate, import, declare searchable fields, query over HTTP.

Steps (per backend):

1. generate N resources with the deterministic generator into a JSON Lines file;
2. `skyatlas import cloud-services FILE` into an empty store, as a subprocess: wall time and the
   peak RSS of that process (`wait4` rusage);
3. declare the generator's cloud service types through the API, so every `metadata.search` path
   gets its expression index (timed: these are index builds over N rows);
4. `skyatlas serve`, then a fixed query set over HTTP: sequential requests for latency (p50, p99),
   then `--concurrency` keep-alive clients for throughput;
5. the same questions as hand-written SQL straight on the store (sqlite3 / psycopg) and as DuckDB
   over the JSONL file;
6. a table of every figure next to the targets, also written as JSON to the work directory.

Only 127.0.0.1 is contacted. Server processes and the PostgreSQL database are removed at the end
(unless `--keep`). Run from the repository root with the project's virtualenv:

    .venv/bin/python bench/inventory.py --count 200000 --backend sqlite

DuckDB is optional (`pip install duckdb`); without it that column is skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from skyatlas.inventory.generator import cloud_service_types, generate_cloud_services

HOST = "127.0.0.1"
SECRET_KEY = "skyatlas-bench-shared-master-key"
VISIBLE = "('ACTIVE', 'DISCONNECTED')"
PAGE = 100

# Values the query set filters on (all present in the generator's stream).
DECLARED_PATH = ("compute", "instance_state")  # declared by every VM type
DECLARED_VALUE = "STOPPED"
UNDECLARED_PATH = ("compute", "image")  # in every VM's data, declared by no type
UNDECLARED_VALUE = "debian-12-bookworm-v20240213"
KEYWORD = "checkout-worker"  # a name fragment (EC2 instance names are app-component-env-NN)
REGION = ("aws", "eu-central-1")


# ------------------------------------------------------------------------------------------
# Query set
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """A hand-written SQL answer: the FROM/WHERE shared by the count and the page query."""

    where: str  # after `FROM cloud_services cs <join> WHERE`
    join: str = ""
    columns: str = "cs.*"
    params: dict[str, Any] = field(default_factory=dict)
    group: str | None = None  # a stat: `SELECT <group>, count(*) ... GROUP BY <group>`
    count_only: bool = False


@dataclass(frozen=True)
class Bench:
    qid: str
    title: str
    kind: str  # core | tag | declared | undeclared | keyword | stat
    path: str
    body: dict[str, Any]
    raw: Callable[[str], Raw]  # backend -> SQL
    duck: str  # WHERE over the JSONL view (or a full SELECT for stats)
    duck_stat: bool = False
    count_only: bool = False


def _cond(k: str, v: Any, o: str = "eq") -> dict[str, Any]:
    return {"k": k, "v": v, "o": o}


def _list(*filters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"query": {"filter": list(filters), "page": {"start": 1, "limit": PAGE}, **extra}}


def _json_text(backend: str, path: tuple[str, ...]) -> str:
    """The text at a data path, spelled exactly like the store's expression index."""
    if backend == "sqlite":
        return "json_extract(cs.data, '$" + "".join(f'."{p}"' for p in path) + "')"
    return "(cs.data #>> '{" + ",".join(f'"{p}"' for p in path) + "}')"


def _tag_join(provider: str) -> str:
    return (
        "JOIN cloud_service_tags t ON t.cloud_service_id = cs.cloud_service_id "
        f"AND t.provider = '{provider}'"
    )


def undeclared_raw(backend: str) -> Raw:
    """SQLite: json_extract (a scan). PostgreSQL: containment, which the GIN (jsonb_path_ops)
    index on `data` answers when the store has one."""
    if backend == "sqlite":
        return Raw(f"{_json_text(backend, UNDECLARED_PATH)} = :v", params={"v": UNDECLARED_VALUE})
    doc: Any = UNDECLARED_VALUE
    for seg in reversed(UNDECLARED_PATH):
        doc = {seg: doc}
    return Raw("cs.data @> CAST(:doc AS jsonb)", params={"doc": json.dumps(doc)})


def keyword_raw(backend: str) -> Raw:
    """The best hand-written substring test: SQLite looks the text up in the FTS5 trigram table
    (a quoted phrase of trigrams is exactly a substring); PostgreSQL's LIKE uses the pg_trgm
    index."""
    if backend == "sqlite":
        return Raw(
            "cs.rowid IN "
            "(SELECT rowid FROM cloud_services_text WHERE cloud_services_text MATCH :kw)",
            params={"kw": f'"{KEYWORD}"'},
        )
    return Raw("cs.search_text LIKE :kw", params={"kw": f"%{KEYWORD}%"})


EC2 = "cs.provider = 'aws' AND cs.cloud_service_group = 'EC2' AND cs.cloud_service_type = "


def queries() -> list[Bench]:
    ec2 = [
        _cond("provider", "aws"),
        _cond("cloud_service_group", "EC2"),
        _cond("cloud_service_type", "Instance"),
    ]
    sg_raw = {
        "sqlite": "json_array_length(cs.data, '$.instances') > 0",
        "postgresql": "cs.data -> 'instances' IS NOT NULL "
        "AND cs.data -> 'instances' NOT IN (CAST('null' AS jsonb), CAST('[]' AS jsonb))",
    }
    sg_cols = {
        "sqlite": "cs.cloud_service_id, cs.name, cs.state, json_extract(cs.data, '$.instances')",
        "postgresql": "cs.cloud_service_id, cs.name, cs.state, cs.data -> 'instances'",
    }
    return [
        Bench(
            "a",
            "provider+group+type (EC2 Instance)",
            "core",
            "/inventory/cloud-service/list",
            _list(*ec2),
            lambda b: Raw(EC2 + "'Instance'"),
            "provider = 'aws' AND cloud_service_group = 'EC2' AND cloud_service_type = 'Instance'",
        ),
        Bench(
            "b",
            "tags.aws.env eq prod + provider",
            "tag",
            "/inventory/cloud-service/list",
            _list(_cond("provider", "aws"), _cond("tags.aws.env", "prod")),
            lambda b: Raw(
                "cs.provider = 'aws' AND t.key = :tk AND t.value = :tv",
                join=_tag_join("aws"),
                params={"tk": "env", "tv": "prod"},
            ),
            "provider = 'aws' AND json_extract_string(tags, '$.aws.env') = 'prod'",
        ),
        Bench(
            "c",
            "tags.aws.Created_by eq wonny",
            "tag",
            "/inventory/cloud-service/list",
            _list(_cond("tags.aws.Created_by", "wonny")),
            lambda b: Raw(
                "t.key = :tk AND t.value = :tv",
                join=_tag_join("aws"),
                params={"tk": "Created_by", "tv": "wonny"},
            ),
            "json_extract_string(tags, '$.aws.Created_by') = 'wonny'",
        ),
        Bench(
            "d",
            f"region_code={REGION[1]} + provider",
            "core",
            "/inventory/cloud-service/list",
            _list(_cond("region_code", REGION[1]), _cond("provider", REGION[0])),
            lambda b: Raw(
                "cs.region_code = :rc AND cs.provider = :pv",
                params={"rc": REGION[1], "pv": REGION[0]},
            ),
            f"region_code = '{REGION[1]}' AND provider = '{REGION[0]}'",
        ),
        Bench(
            "e",
            f"declared data.{'.'.join(DECLARED_PATH)} eq {DECLARED_VALUE}",
            "declared",
            "/inventory/cloud-service/list",
            _list(_cond("data." + ".".join(DECLARED_PATH), DECLARED_VALUE)),
            lambda b: Raw(f"{_json_text(b, DECLARED_PATH)} = :v", params={"v": DECLARED_VALUE}),
            f"json_extract_string(data, '$.{'.'.join(DECLARED_PATH)}') = '{DECLARED_VALUE}'",
        ),
        Bench(
            "f",
            f"undeclared data.{'.'.join(UNDECLARED_PATH)} eq",
            "undeclared",
            "/inventory/cloud-service/list",
            _list(_cond("data." + ".".join(UNDECLARED_PATH), UNDECLARED_VALUE)),
            undeclared_raw,
            f"json_extract_string(data, '$.{'.'.join(UNDECLARED_PATH)}') = '{UNDECLARED_VALUE}'",
        ),
        Bench(
            "g",
            f"keyword '{KEYWORD}'",
            "keyword",
            "/inventory/cloud-service/list",
            {"query": {"keyword": KEYWORD, "page": {"start": 1, "limit": PAGE}}},
            keyword_raw,
            "lower(concat_ws(chr(10), name, array_to_string(ip_addresses, chr(10)), "
            "cloud_service_group, cloud_service_type, reference.resource_id)) "
            f"LIKE '%{KEYWORD}%'",
        ),
        Bench(
            "h",
            "stat count by provider x type",
            "stat",
            "/inventory/cloud-service/stat",
            {
                "query": {
                    "aggregate": [
                        {
                            "group": {
                                "keys": [
                                    {"key": "provider", "name": "provider"},
                                    {"key": "cloud_service_type", "name": "cloud_service_type"},
                                ],
                                "fields": [{"name": "count", "operator": "count"}],
                            }
                        }
                    ]
                }
            },
            lambda b: Raw("1 = 1", group="cs.provider, cs.cloud_service_type"),
            "SELECT provider, cloud_service_type, count(*) FROM cs "
            "GROUP BY provider, cloud_service_type",
            duck_stat=True,
        ),
        Bench(
            "i",
            "seed SG query: data.instances not_in [null, []]",
            "undeclared",
            "/inventory/cloud-service/list",
            _list(
                _cond("provider", "aws"),
                _cond("cloud_service_group", "EC2"),
                _cond("cloud_service_type", "SecurityGroup"),
                _cond("data.instances", [None, []], "not_in"),
                only=["name", "state", "data.instances"],
            ),
            lambda b: Raw(EC2 + "'SecurityGroup' AND " + sg_raw[b], columns=sg_cols[b]),
            "provider = 'aws' AND cloud_service_group = 'EC2' "
            "AND cloud_service_type = 'SecurityGroup' "
            "AND json_array_length(data, '$.instances') > 0",
        ),
        Bench(
            "j",
            "count_only of (a)",
            "core",
            "/inventory/cloud-service/list",
            {"query": {"filter": ec2, "count_only": True}},
            lambda b: Raw(EC2 + "'Instance'", count_only=True),
            "provider = 'aws' AND cloud_service_group = 'EC2' AND cloud_service_type = 'Instance'",
            count_only=True,
        ),
    ]


# ------------------------------------------------------------------------------------------
# Measurement helpers
# ------------------------------------------------------------------------------------------


def pct(samples: list[float], q: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    if not samples:
        return math.nan
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))] * 1000


def measure(fn: Callable[[], Any], requests: int, duration: float, minimum: int = 3) -> list[float]:
    """Run `fn` sequentially `requests` times, or until `duration` seconds (at least `minimum`)."""
    lat: list[float] = []
    deadline = time.perf_counter() + duration
    while len(lat) < requests and (len(lat) < minimum or time.perf_counter() < deadline):
        t0 = time.perf_counter()
        fn()
        lat.append(time.perf_counter() - t0)
    return lat


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def machine() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kernel": platform.release(),
    }


def skyatlas_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "skyatlas"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "skyatlas"]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------------------------------
# Steps
# ------------------------------------------------------------------------------------------


def generate(path: Path, count: int, seed: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    dumps = orjson.dumps
    with path.open("wb", buffering=1 << 20) as fh:
        buf: list[bytes] = []
        for record in generate_cloud_services(count, seed=seed):
            buf.append(dumps(record))
            if len(buf) >= 4096:
                fh.write(b"\n".join(buf) + b"\n")
                buf.clear()
        if buf:
            fh.write(b"\n".join(buf) + b"\n")
    elapsed = time.perf_counter() - t0
    size = path.stat().st_size
    return {
        "seconds": round(elapsed, 3),
        "records_per_s": round(count / elapsed),
        "bytes": size,
        "mb": round(size / 1e6, 1),
    }


def run_import(
    jsonl: Path, data_dir: Path, env: dict[str, str], db_url: str | None, count: int, logf: Path
) -> dict[str, Any]:
    cmd = [*skyatlas_cmd(), "import", "cloud-services", str(jsonl), "--data-dir", str(data_dir)]
    if db_url:
        cmd += ["--database-url", db_url]
    with logf.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            # wait4 gives this child's own rusage (ru_maxrss = its peak RSS in KiB on Linux).
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"import failed ({proc.returncode}): {logf.read_text()[-2000:]}")
    tail = logf.read_text().strip().splitlines()[-1:]
    return {
        "seconds": round(elapsed, 3),
        "records_per_s": round(count / elapsed),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "cpu_user_s": round(usage.ru_utime, 2),
        "cpu_sys_s": round(usage.ru_stime, 2),
        "output": tail[0] if tail else "",
    }


class Server:
    """`skyatlas serve` in its own session; stopped (TERM, then KILL) by `stop()`."""

    def __init__(self, data_dir: Path, env: dict[str, str], db_url: str | None, logf: Path) -> None:
        self.port = free_port()
        cmd = [*skyatlas_cmd(), "serve", "--host", HOST, "--port", str(self.port)]
        cmd += ["--data-dir", str(data_dir)]
        if db_url:
            cmd += ["--database-url", db_url]
        self._log = logf.open("wb")
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.url = f"http://{HOST}:{self.port}"

    def wait_ready(self, timeout: float = 120) -> float:
        t0 = time.perf_counter()
        deadline = t0 + timeout
        with httpx.Client(trust_env=False, timeout=2) as c:
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"skyatlas serve exited with {self.proc.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if c.get(self.url + "/check").status_code == 200:
                        return time.perf_counter() - t0
                time.sleep(0.1)
        raise RuntimeError("skyatlas serve did not answer /check in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def client(base: str, token: str, timeout: float = 600) -> httpx.Client:
    return httpx.Client(
        base_url=base,
        trust_env=False,
        timeout=timeout,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def post(c: httpx.Client, path: str, body: bytes) -> httpx.Response:
    r = c.post(path, content=body)
    if r.status_code != 200:
        raise RuntimeError(f"POST {path} -> {r.status_code}: {r.text[:500]}")
    return r


def declare_types(c: httpx.Client, workspace_id: str) -> dict[str, Any]:
    """Create every generator type with its `metadata.search`. A type whose create fails while
    it re-declares a key an earlier type already indexed is retried with only its new keys (the
    index of a key is shared by all types), and the failure is recorded."""
    per_type = []
    keys: set[str] = set()
    failures: list[str] = []
    t0 = time.perf_counter()
    for body in cloud_service_types():
        name = f"{body['provider']}/{body['group']}/{body['name']}"
        own = [e["key"] for e in body["metadata"]["search"]]
        t1 = time.perf_counter()
        r = c.post(
            "/inventory/cloud-service-type/create",
            content=orjson.dumps({**body, "workspace_id": workspace_id}),
        )
        if r.status_code != 200 and set(own) & keys:
            failures.append(f"{name}: {r.status_code} {r.text[:160]}")
            search = [e for e in body["metadata"]["search"] if e["key"] not in keys]
            retry = {**body, "metadata": {**body["metadata"], "search": search}}
            r = c.post(
                "/inventory/cloud-service-type/create",
                content=orjson.dumps({**retry, "workspace_id": workspace_id}),
            )
        if r.status_code != 200:
            raise RuntimeError(f"declaring {name} -> {r.status_code}: {r.text[:500]}")
        per_type.append(
            {
                "type": name,
                "new_keys": len(set(own) - keys),
                "seconds": round(time.perf_counter() - t1, 3),
            }
        )
        keys.update(own)
    total = time.perf_counter() - t0
    slowest = sorted(per_type, key=lambda t: -t["seconds"])[:3]
    return {
        "types": len(per_type),
        "distinct_keys": len(keys),
        "seconds": round(total, 2),
        "slowest": slowest,
        "redeclare_failures": failures,
    }


def scoped_body(q: Bench, workspace_id: str | None) -> bytes:
    """The request; in workspace scope the query also filters on `workspace_id` (what a
    workspace-level console view sends)."""
    if workspace_id is None:
        return orjson.dumps(q.body)
    query = dict(q.body["query"])
    query["filter"] = [*query.get("filter", []), _cond("workspace_id", workspace_id)]
    return orjson.dumps({**q.body, "query": query})


def api_bench(
    base: str, token: str, q: Bench, args: argparse.Namespace, workspace_id: str | None
) -> dict[str, Any]:
    body = scoped_body(q, workspace_id)
    with client(base, token) as c:
        first = post(c, q.path, body).json()
        post(c, q.path, body)  # warm-up
        seq = measure(lambda: post(c, q.path, body), args.requests, args.duration)
    # Concurrency: each worker its own keep-alive client, all released together.
    workers = args.concurrency
    lat: list[list[float]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers + 1)

    def worker(k: int) -> None:
        try:
            with client(base, token) as wc:
                post(wc, q.path, body)
                barrier.wait()
                deadline = time.perf_counter() + args.duration
                while len(lat[k]) < args.requests and (
                    len(lat[k]) < 2 or time.perf_counter() < deadline
                ):
                    t0 = time.perf_counter()
                    post(wc, q.path, body)
                    lat[k].append(time.perf_counter() - t0)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.abort()

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(workers)]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    conc = [x for part in lat for x in part]
    return {
        "total_count": first.get("total_count"),
        "results": len(first.get("results", [])),
        "n": len(seq),
        "p50_ms": round(pct(seq, 0.5), 2),
        "p99_ms": round(pct(seq, 0.99), 2),
        "conc_n": len(conc),
        "conc_p50_ms": round(pct(conc, 0.5), 2),
        "conc_p99_ms": round(pct(conc, 0.99), 2),
        "req_per_s": round(len(conc) / wall, 1) if wall > 0 else None,
    }


# -- raw SQL on the store ----------------------------------------------------------------


def raw_statements(
    raw: Raw, backend: str, scope: tuple[str, str]
) -> list[tuple[str, dict[str, Any]]]:
    """Count and first page, scoped like the API call: `domain_id` for the domain admin's
    query, `workspace_id` when the query names the workspace."""
    column, value = scope
    base = f"FROM cloud_services cs {raw.join} WHERE cs.{column} = :scope "
    base += f"AND cs.state IN {VISIBLE} AND ({raw.where})"
    params = {"scope": value, **raw.params}
    if raw.group:
        sql = [f"SELECT {raw.group}, count(*) {base} GROUP BY {raw.group}"]
    elif raw.count_only:
        sql = [f"SELECT count(*) {base}"]
    else:
        sql = [
            f"SELECT count(*) {base}",
            f"SELECT {raw.columns} {base} ORDER BY cs.cloud_service_id LIMIT {PAGE}",
        ]
    if backend == "postgresql":
        return [(_pg_params(s), params) for s in sql]
    return [(s, params) for s in sql]


def _pg_params(sql: str) -> str:
    """`:name` placeholders to psycopg's `%(name)s` (the SQL holds no other `:` or `%`)."""
    out, i = [], 0
    while i < len(sql):
        if sql[i] == ":" and i + 1 < len(sql) and sql[i + 1].isalpha():
            j = i + 1
            while j < len(sql) and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            out.append(f"%({sql[i + 1 : j]})s")
            i = j
        else:
            out.append(sql[i])
            i += 1
    return "".join(out)


class RawDB:
    """A plain DB-API connection to the store (no SQLAlchemy, no skyatlas code)."""

    def __init__(self, backend: str, sqlite_path: Path | None, pg_dsn: str | None) -> None:
        self.backend = backend
        if backend == "sqlite":
            assert sqlite_path is not None
            self.conn: Any = sqlite3.connect(str(sqlite_path), isolation_level=None)
            # the same page cache the store configures per connection
            self.conn.execute("PRAGMA cache_size=-32768")
            self.conn.execute("PRAGMA temp_store=MEMORY")
        else:
            import psycopg

            self.conn = psycopg.connect(pg_dsn, autocommit=True)

    def run(self, stmts: list[tuple[str, dict[str, Any]]]) -> list[list[Any]]:
        out = []
        for sql, params in stmts:
            cur = self.conn.execute(sql, params)
            out.append(cur.fetchall())
        return out

    def explain(self, stmts: list[tuple[str, dict[str, Any]]]) -> list[str]:
        plans = []
        for sql, params in stmts:
            if self.backend == "sqlite":
                rows = self.conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
                plans.append("; ".join(str(r[3]) for r in rows))
            else:
                rows = self.conn.execute("EXPLAIN " + sql, params).fetchall()
                plans.append(" | ".join(r[0].strip() for r in rows[:8]))
        return plans

    def close(self) -> None:
        self.conn.close()


def raw_bench(
    db: RawDB, q: Bench, scope: tuple[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    stmts = raw_statements(q.raw(db.backend), db.backend, scope)
    result = db.run(stmts)  # warm-up, and the answer to check against the API's
    count = len(result[0]) if q.raw(db.backend).group else result[0][0][0]
    lat = measure(lambda: db.run(stmts), args.requests, args.duration)
    return {
        "total_count": count,
        "n": len(lat),
        "p50_ms": round(pct(lat, 0.5), 2),
        "p99_ms": round(pct(lat, 0.99), 2),
        "plan": db.explain(stmts),
        "sql": [s for s, _ in stmts],
    }


# -- DuckDB on the JSONL file --------------------------------------------------------------

DUCK_COLUMNS = {
    "provider": "VARCHAR",
    "cloud_service_group": "VARCHAR",
    "cloud_service_type": "VARCHAR",
    "name": "VARCHAR",
    "account": "VARCHAR",
    "instance_type": "VARCHAR",
    "instance_size": "DOUBLE",
    "ip_addresses": "VARCHAR[]",
    "region_code": "VARCHAR",
    "data": "JSON",
    "metadata": "JSON",
    "reference": "STRUCT(resource_id VARCHAR, external_link VARCHAR)",
    "tags": "JSON",
    "project_id": "VARCHAR",
}


def duck_open(jsonl: Path) -> Any:
    try:
        import duckdb
    except ImportError:
        return None
    con = duckdb.connect()
    cols = "{" + ", ".join(f"'{k}': '{v}'" for k, v in DUCK_COLUMNS.items()) + "}"
    path = str(jsonl).replace("'", "''")
    # A view: every query reads and parses the file again, as a query "straight from the file".
    con.execute(f"CREATE VIEW cs AS SELECT * FROM read_ndjson('{path}', columns={cols})")
    return con


def duck_bench(con: Any, q: Bench, args: argparse.Namespace) -> dict[str, Any]:
    if q.duck_stat:
        stmts = [q.duck]
    elif q.count_only:
        stmts = [f"SELECT count(*) FROM cs WHERE {q.duck}"]
    else:
        stmts = [
            f"SELECT count(*) FROM cs WHERE {q.duck}",
            f"SELECT * FROM cs WHERE {q.duck} LIMIT {PAGE}",
        ]

    def run() -> list[list[Any]]:
        return [con.execute(s).fetchall() for s in stmts]

    first = run()
    count = len(first[0]) if q.duck_stat else first[0][0][0]
    lat = measure(run, min(args.requests, args.duck_requests), args.duration)
    return {"total_count": count, "n": len(lat), "p50_ms": round(pct(lat, 0.5), 2)}


# ------------------------------------------------------------------------------------------
# PostgreSQL database lifecycle
# ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def pg_database(admin_dsn: str, keep: bool) -> Iterator[tuple[str, str]]:
    """A fresh database; yields (SQLAlchemy URL, libpq DSN). Dropped afterwards."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    info = conninfo_to_dict(admin_dsn)
    if info.get("host") not in (None, HOST, "localhost"):
        raise SystemExit("--pg-admin must point at 127.0.0.1")
    name = f"skyatlas_bench_{os.getpid()}"
    with psycopg.connect(admin_dsn, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')
        c.execute(f'CREATE DATABASE "{name}"')
    dsn = make_conninfo(admin_dsn, dbname=name)
    user = info.get("user", "postgres")
    host = info.get("host", HOST)
    port = info.get("port", "5432")
    url = f"postgresql+psycopg://{user}@{host}:{port}/{name}"
    try:
        yield url, dsn
    finally:
        if keep:
            log(f"kept PostgreSQL database {name}")
        else:
            with psycopg.connect(admin_dsn, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------------------------------
# One backend
# ------------------------------------------------------------------------------------------


def run_backend(
    backend: str, jsonl: Path, args: argparse.Namespace, duck: Any, duck_cache: dict[str, Any]
) -> dict[str, Any]:
    workdir: Path = args.workdir
    data_dir = workdir / f"data-{backend}"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    env = {**os.environ, "SKYATLAS_SECRET_KEY": SECRET_KEY}
    env.pop("SKYATLAS_DATABASE_URL", None)
    env.pop("SKYATLAS_DATA_DIR", None)
    out: dict[str, Any] = {"backend": backend, "load_before": list(os.getloadavg())}
    with contextlib.ExitStack() as stack:
        db_url = pg_dsn = None
        if backend == "postgresql":
            db_url, pg_dsn = stack.enter_context(pg_database(args.pg_admin, args.keep))
        log(f"[{backend}] import {args.count:,} records")
        out["import"] = run_import(
            jsonl, data_dir, env, db_url, args.count, workdir / f"import-{backend}.log"
        )
        imp = out["import"]
        log(
            f"[{backend}] import: {imp['seconds']} s, {imp['records_per_s']:,}/s, "
            f"peak RSS {imp['peak_rss_mb']} MB — {imp['output']}"
        )
        boot = json.loads((data_dir / "bootstrap.json").read_text())
        token, ws, dom = boot["client_secret"], boot["workspace_id"], boot["domain_id"]
        raw = RawDB(backend, data_dir / "skyatlas.db", pg_dsn)
        stack.callback(raw.close)

        server = Server(data_dir, env, db_url, workdir / f"serve-{backend}.log")
        stack.callback(server.stop)
        out["server_start_s"] = round(server.wait_ready(), 2)
        log(f"[{backend}] server up on {server.url} in {out['server_start_s']} s")

        with client(server.url, token) as c:
            out["declare"] = declare_types(c, ws)
            out["floor"] = floor(c, args)
        d = out["declare"]
        log(
            f"[{backend}] declared {d['types']} types / {d['distinct_keys']} searchable keys "
            f"in {d['seconds']} s"
        )
        analyze = args.analyze == "yes" or (args.analyze == "auto" and backend == "postgresql")
        if analyze:
            # PostgreSQL: what autovacuum does after a bulk load (statistics and the visibility
            # map that index-only scans need), now rather than at an unpredictable moment.
            t0 = time.perf_counter()
            raw.conn.execute("VACUUM ANALYZE" if backend == "postgresql" else "ANALYZE")
            out["analyze_s"] = round(time.perf_counter() - t0, 2)
        out["store"] = store_facts(raw, backend, data_dir, pg_dsn)

        out["scopes"] = {}
        for scope in args.scopes:
            ws_filter = ws if scope == "workspace" else None
            sql_scope = ("workspace_id", ws) if scope == "workspace" else ("domain_id", dom)
            rows: dict[str, Any] = {}
            out["scopes"][scope] = rows
            for q in queries():
                if args.only and q.qid not in args.only:
                    continue
                row: dict[str, Any] = {"title": q.title, "kind": q.kind}
                row["load_before"] = round(os.getloadavg()[0], 2)
                row["api"] = api_bench(server.url, token, q, args, ws_filter)
                row["sql"] = raw_bench(raw, q, sql_scope, args)
                if duck is not None:
                    if q.qid not in duck_cache:
                        duck_cache[q.qid] = duck_bench(duck, q, args)
                    row["duckdb"] = duck_cache[q.qid]
                rows[q.qid] = row
                a, s = row["api"], row["sql"]
                dk = row.get("duckdb", {}).get("p50_ms", "-")
                log(
                    f"[{backend}/{scope}] ({q.qid}) {q.title}: n={a['total_count']} "
                    f"api p50 {a['p50_ms']} p99 {a['p99_ms']} ms, c={args.concurrency} "
                    f"{a['req_per_s']} req/s; sql p50 {s['p50_ms']} ms; duckdb p50 {dk} ms"
                )
        out["load_after"] = [round(x, 2) for x in os.getloadavg()]
    return out


def floor(c: httpx.Client, args: argparse.Namespace) -> dict[str, float]:
    """The cost of a request that does next to nothing: unauthenticated and authenticated."""
    check = measure(lambda: c.get("/check"), 50, 5)
    ws = measure(lambda: post(c, "/identity/workspace/list", b"{}"), 50, 5)
    return {"check_p50_ms": round(pct(check, 0.5), 2), "auth_p50_ms": round(pct(ws, 0.5), 2)}


def store_facts(raw: RawDB, backend: str, data_dir: Path, pg_dsn: str | None) -> dict[str, Any]:
    if backend == "sqlite":
        idx = raw.conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_cs_search_%'"
        ).fetchone()[0]
        stats = raw.conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).fetchone()[0]
        size = sum(p.stat().st_size for p in data_dir.glob("skyatlas.db*"))
        return {"search_indexes": idx, "size_mb": round(size / 1e6, 1), "analyzed": bool(stats)}
    idx = raw.conn.execute(
        "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'ix_cs_search_%'"
    ).fetchone()[0]
    size = raw.conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    analyzed = raw.conn.execute(
        "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL "
        "FROM pg_stat_user_tables WHERE relname = 'cloud_services'"
    ).fetchone()[0]
    autovacuum = raw.conn.execute("SHOW autovacuum").fetchone()[0]
    return {
        "search_indexes": idx,
        "size_mb": round(size / 1e6, 1),
        "analyzed": bool(analyzed),
        "autovacuum": autovacuum,
    }


# ------------------------------------------------------------------------------------------
# Targets and report
# ------------------------------------------------------------------------------------------


def checks(res: dict[str, Any], n: int) -> list[dict[str, Any]]:
    backend = res["backend"]
    out: list[dict[str, Any]] = []

    def add(name: str, value: Any, op: str, target: float, unit: str = "") -> None:
        ok = None if value is None else (value >= target if op == ">=" else value <= target)
        out.append({"check": name, "value": value, "target": f"{op} {target:g}{unit}", "pass": ok})

    imp = res["import"]
    add("import records/s", imp["records_per_s"], ">=", 25000)
    add("import peak RSS MB", imp["peak_rss_mb"], "<=", 500, " MB")
    undeclared = 1500 if backend == "sqlite" else 100
    many = len(res["scopes"]) > 1
    for scope, qid, row in (
        (scope, qid, row) for scope, rows in res["scopes"].items() for qid, row in rows.items()
    ):
        a, s, kind = row["api"], row["sql"], row["kind"]
        label = (f"[{scope}] " if many else "") + f"({qid}) {row['title']}"
        if kind in ("core", "tag"):
            add(f"{label} p50", a["p50_ms"], "<=", 15, " ms")
            add(f"{label} p99", a["p99_ms"], "<=", 50, " ms")
        elif kind == "declared":
            add(f"{label} p50", a["p50_ms"], "<=", 20, " ms")
        elif kind == "undeclared":
            add(f"{label} p50", a["p50_ms"], "<=", undeclared, " ms")
        elif kind == "keyword":
            add(f"{label} p50", a["p50_ms"], "<=", 200, " ms")
        elif kind == "stat":
            add(f"{label} p50", a["p50_ms"], "<=", 300, " ms")
        ratio = a["p50_ms"] / s["p50_ms"] if s["p50_ms"] > 0 else None
        add(f"{label} API/SQL", None if ratio is None else round(ratio, 2), "<=", 2, "x")
        dk = row.get("duckdb")
        selective = kind in ("core", "tag", "declared") and (a["total_count"] or 0) <= 0.05 * n
        if dk and selective:
            add(f"{label} DuckDB/API", round(dk["p50_ms"] / a["p50_ms"], 1), ">=", 10, "x")
    return out


def fmt(v: Any, nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


SCOPE_HELP = {
    "domain": "the bootstrap DOMAIN_ADMIN's plain query: all workspaces of the domain",
    "workspace": "the same queries with a workspace_id eq filter, as a workspace view sends",
}


def query_table(rows: dict[str, Any], c: int) -> list[str]:
    lines = []
    head = (
        f"{'q':<3} {'query':<46} {'count':>9} {'p50':>8} {'p99':>8} "
        f"{f'c{c} p50':>8} {f'c{c} p99':>8} {'req/s':>7} {'SQL p50':>8} {'API/SQL':>7} "
        f"{'DuckDB':>8} {'Duck/API':>8}"
    )
    lines.append(head)
    lines.append("-" * len(head))
    for qid, row in rows.items():
        a, s = row["api"], row["sql"]
        dk = row.get("duckdb") or {}
        ratio = a["p50_ms"] / s["p50_ms"] if s["p50_ms"] else None
        dratio = dk["p50_ms"] / a["p50_ms"] if dk and a["p50_ms"] else None
        mismatch = [
            name
            for name, other in (("sql", s), ("duckdb", dk))
            if other and other.get("total_count") != a["total_count"]
        ]
        count = fmt(a["total_count"]) + ("!" if mismatch else "")
        lines.append(
            f"{qid:<3} {row['title'][:46]:<46} {count:>9} {fmt(a['p50_ms']):>8} "
            f"{fmt(a['p99_ms']):>8} {fmt(a['conc_p50_ms']):>8} {fmt(a['conc_p99_ms']):>8} "
            f"{fmt(a['req_per_s']):>7} {fmt(s['p50_ms']):>8} {fmt(ratio, 2):>7} "
            f"{fmt(dk.get('p50_ms')):>8} {fmt(dratio):>8}"
        )
        if mismatch:
            lines.append(
                f"    ! total_count differs: api {a['total_count']}, sql {s['total_count']}, "
                f"duckdb {dk.get('total_count')}"
            )
    lines.append("(ms; count = API total_count; '!' = SQL or DuckDB counted differently)")
    return lines


def report(summary: dict[str, Any]) -> str:
    lines: list[str] = []
    m = summary["machine"]
    g = summary["generate"]
    lines.append("")
    lines.append(
        f"skyatlas inventory benchmark — N={summary['count']:,}  "
        f"machine: {m['nproc']} CPUs, {m['ram_gib']} GiB RAM, {m['cpu']}; "
        f"Python {m['python']}, SQLite {m['sqlite']}"
        + (f", DuckDB {summary['duckdb_version']}" if summary.get("duckdb_version") else "")
    )
    lines.append(
        f"generate: {g['seconds']:.1f} s, {g['records_per_s']:,} records/s, JSONL {g['mb']:,} MB"
    )
    args = summary["args"]
    lines.append(
        f"latency: sequential keep-alive client, up to {args['requests']} requests or "
        f"{args['duration']} s per query after 2 warm-ups; throughput: {args['concurrency']} "
        "concurrent clients"
    )
    for res in summary["backends"]:
        imp, d, st = res["import"], res["declare"], res["store"]
        lines.append("")
        lines.append(f"== backend: {res['backend']} ==")
        lines.append(
            f"import: {imp['seconds']:.1f} s, {imp['records_per_s']:,} records/s, peak RSS "
            f"{imp['peak_rss_mb']} MB (cpu user {imp['cpu_user_s']} s, sys {imp['cpu_sys_s']} s)"
        )
        lines.append(
            f"declare {d['types']} types ({d['distinct_keys']} searchable keys, "
            f"{st['search_indexes']} indexes): {d['seconds']} s; slowest "
            + ", ".join(f"{t['type']} {t['seconds']} s" for t in d["slowest"])
        )
        if d["redeclare_failures"]:
            lines.append(
                f"  ! {len(d['redeclare_failures'])} type creates failed when re-declaring an "
                "already indexed key; retried with only their new keys. First: "
                + d["redeclare_failures"][0]
            )
        lines.append(
            f"store size {st['size_mb']:,} MB; planner statistics: "
            + (
                f"{'VACUUM ' if res['backend'] == 'postgresql' else ''}ANALYZE by the bench "
                f"({res['analyze_s']} s)"
                if "analyze_s" in res
                else ("present" if st["analyzed"] else "none (as the import leaves them)")
            )
            + (f"; autovacuum {st['autovacuum']}" if "autovacuum" in st else "")
            + f"; server ready in {res['server_start_s']} s"
        )
        fl = res["floor"]
        lines.append(
            f"request floor: GET /check p50 {fl['check_p50_ms']} ms, authenticated "
            f"identity/workspace/list p50 {fl['auth_p50_ms']} ms; load average before "
            f"{res['load_before'][0]:.2f}, after {res['load_after'][0]:.2f}"
        )
        for scope, rows in res["scopes"].items():
            lines.append("")
            lines.append(f"-- scope: {scope} ({SCOPE_HELP[scope]})")
            lines.extend(query_table(rows, args["concurrency"]))
        lines.append("")
        lines.append(f"{'target check':<76} {'value':>10}  {'target':<12} verdict")
        for ch in res["checks"]:
            verdict = "-" if ch["pass"] is None else ("PASS" if ch["pass"] else "FAIL")
            lines.append(
                f"{ch['check'][:76]:<76} {fmt(ch['value']):>10}  {ch['target']:<12} {verdict}"
            )
        passed = sum(1 for ch in res["checks"] if ch["pass"])
        lines.append(f"{passed}/{len(res['checks'])} checks pass")
        for scope, rows in res["scopes"].items():
            lines.append("")
            lines.append(f"raw SQL plans, scope {scope} (count || page; whole plans in the JSON):")
            for qid, row in rows.items():
                plans = (p if len(p) <= 400 else p[:400] + " …" for p in row["sql"]["plan"])
                lines.append(f"  ({qid}) " + "  ||  ".join(plans))
    lines.append("")
    lines.append(
        "DuckDB/API is checked for selective index-backed queries (core, tag or declared "
        "field, ≤ 5% of N); latency targets use the sequential p50/p99."
    )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=1_000_000, help="resources to generate")
    p.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="sqlite")
    p.add_argument("--workdir", type=Path, default=None, help="default: a new temporary dir")
    p.add_argument("--requests", type=int, default=50, help="max requests per query and phase")
    p.add_argument("--duration", type=float, default=20.0, help="max seconds per query and phase")
    p.add_argument("--concurrency", type=int, default=4, help="clients of the throughput phase")
    p.add_argument("--duck-requests", type=int, default=5, help="max DuckDB runs per query")
    p.add_argument("--seed", type=int, default=0, help="generator seed")
    p.add_argument(
        "--pg-admin",
        default=f"host={HOST} port=5432 user=postgres dbname=postgres",
        help="libpq DSN of a database to create/drop the benchmark database from",
    )
    p.add_argument(
        "--analyze",
        choices=("auto", "yes", "no"),
        default="auto",
        help="ANALYZE the store after declaring the types (auto: PostgreSQL only, whose "
        "autovacuum would otherwise do it at an unpredictable moment mid-run)",
    )
    p.add_argument(
        "--scope",
        choices=("domain", "workspace", "both"),
        default="domain",
        help="domain: the bootstrap admin's plain queries; workspace: with a workspace_id "
        "filter; both: run the query set twice",
    )
    p.add_argument("--only", nargs="*", help="query ids to run (default: all)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target check fails")
    p.add_argument(
        "--keep", action="store_true", help="keep the JSONL, the stores and the PG database"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workdir is None:
        args.workdir = Path(tempfile.mkdtemp(prefix="skyatlas-bench-"))
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.workdir = args.workdir.resolve()
    args.scopes = ["domain", "workspace"] if args.scope == "both" else [args.scope]
    backends = {"sqlite": ["sqlite"], "postgres": ["postgresql"]}.get(
        args.backend, ["sqlite", "postgresql"]
    )
    summary: dict[str, Any] = {
        "count": args.count,
        "machine": machine(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "backends": [],
    }
    jsonl = args.workdir / f"cloud-services-{args.count}-seed{args.seed}.jsonl"
    duck = None
    try:
        log(f"generating {args.count:,} records into {jsonl}")
        summary["generate"] = generate(jsonl, args.count, args.seed)
        g = summary["generate"]
        log(f"generated in {g['seconds']} s ({g['records_per_s']:,}/s), {g['mb']} MB")
        duck = duck_open(jsonl)
        if duck is None:
            log("duckdb is not installed: skipping the DuckDB column (pip install duckdb)")
        else:
            import duckdb

            summary["duckdb_version"] = duckdb.__version__
        duck_cache: dict[str, Any] = {}
        for backend in backends:
            res = run_backend(backend, jsonl, args, duck, duck_cache)
            res["checks"] = checks(res, args.count)
            summary["backends"].append(res)
    finally:
        if duck is not None:
            duck.close()
        if not args.keep:
            jsonl.unlink(missing_ok=True)
            for b in backends:
                shutil.rmtree(args.workdir / f"data-{b}", ignore_errors=True)
        if summary["backends"]:
            out = args.workdir / f"inventory-{args.backend}-{args.count}.json"
            out.write_text(json.dumps(summary, indent=2, default=str))
            print(report(summary))
            print(f"\nresults: {out}")
    failed = any(ch["pass"] is False for r in summary["backends"] for ch in r["checks"])
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
