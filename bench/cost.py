"""Cost analysis benchmark: a FOCUS Parquet export synced through the `focus` plugin, then
queried over HTTP next to plain DuckDB SQL on the same file.

    .venv/bin/python bench/cost.py --rows 10000000 [--backend sqlite|postgres] [--requests 30]

1. Generate `--rows` daily cost rows as one FOCUS Parquet file with DuckDB SQL alone
   (deterministic per `--rows`/`--seed` and the current month; cached in the work directory):
   4 providers, 60 services, 20 regions, 200 sub-accounts, 24 months ending last month, tags
   `team`, `env`, `app`. Each resource has fixed dimensions and one row per day, in date order,
   as a real export has.
2. Start `skyatlas serve` on an empty store (the work directory is an import root), register a
   `focus` data source over HTTP and sync it: rows/s from the sync request until `job/get`
   says SUCCESS (file → queryable), and the server process's peak RSS meanwhile (its VmHWM,
   reset through /proc/<pid>/clear_refs just before the sync).
3. Query over HTTP, sequentially (p50, p99): MONTHLY x product over 12 months, DAILY x
   provider over 31 days, MONTHLY x `tags.team` with `provider eq aws`, and the seed's
   `cost list` (data source + billed_date, page of 100). Each question is also answered by
   plain DuckDB SQL on the Parquet file in this process (p50 of `--duck-requests` runs), the
   ratio printed, and the answers compared (a FAIL line when they differ).
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import inventory as inv

MONTHS = 24
TOLERANCE = 1e-6  # relative, API sums vs DuckDB sums

# Dimensions of the generated export. Each provider has 15 services, 5 regions, 50 accounts.
PROVIDERS = ["AWS", "Microsoft", "Google Cloud", "Oracle"]
PROVIDER_WEIGHTS = [45, 25, 20, 10]  # percent of resources
SERVICES = [
    # AWS
    "Amazon Elastic Compute Cloud",
    "Amazon Simple Storage Service",
    "Amazon Relational Database Service",
    "AWS Lambda",
    "Amazon CloudFront",
    "Amazon DynamoDB",
    "Amazon Elastic Kubernetes Service",
    "Amazon ElastiCache",
    "Amazon Virtual Private Cloud",
    "Amazon CloudWatch",
    "Amazon Elastic Block Store",
    "Amazon Route 53",
    "Amazon Simple Queue Service",
    "Amazon Redshift",
    "AWS Key Management Service",
    # Microsoft
    "Virtual Machines",
    "Storage",
    "Azure SQL Database",
    "Azure Functions",
    "Azure Kubernetes Service",
    "Azure Cosmos DB",
    "Azure Monitor",
    "Bandwidth",
    "Azure App Service",
    "Azure Cache for Redis",
    "Azure DNS",
    "Azure Service Bus",
    "Azure Synapse Analytics",
    "Key Vault",
    "Azure Backup",
    # Google Cloud
    "Compute Engine",
    "Cloud Storage",
    "Cloud SQL",
    "Cloud Functions",
    "Kubernetes Engine",
    "BigQuery",
    "Cloud Run",
    "Cloud Logging",
    "Networking",
    "Cloud Memorystore",
    "Cloud DNS",
    "Pub/Sub",
    "Cloud Spanner",
    "Cloud Key Management Service",
    "Filestore",
    # Oracle
    "Compute",
    "Object Storage",
    "Autonomous Database",
    "Functions",
    "Container Engine for Kubernetes",
    "Block Volume",
    "Load Balancer",
    "Networking - FastConnect",
    "Monitoring",
    "Logging",
    "DNS",
    "Streaming",
    "MySQL HeatWave",
    "Vault",
    "File Storage",
]
REGIONS = [
    ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-2"],
    ["eastus", "westus2", "westeurope", "northeurope", "koreacentral"],
    ["us-central1", "us-east1", "europe-west1", "europe-west3", "asia-northeast3"],
    ["us-ashburn-1", "us-phoenix-1", "eu-frankfurt-1", "uk-london-1", "ap-seoul-1"],
]
UNITS = ["Hours", "GB-Mo", "Requests", "GB"]
TEAMS = [
    "payments",
    "checkout",
    "search",
    "platform",
    "data",
    "ml",
    "identity",
    "growth",
    "mobile",
    "security",
    "infra",
    "support",
]
APPS = 40


def _sql_list(items: list[str]) -> str:
    return "[" + ", ".join("'" + s.replace("'", "''") + "'" for s in items) + "]"


def data_window(today: date | None = None) -> tuple[date, date]:
    """[first day, day after the last): the 24 whole months ending last month (UTC)."""
    today = today or datetime.now(UTC).date()
    end = today.replace(day=1)
    y, m = divmod(end.year * 12 + end.month - 1 - MONTHS, 12)
    return date(y, m + 1, 1), end


def focus_sql(path: Path, rows: int, seed: int, start: date, end: date) -> str:
    """One COPY statement writing the whole export.

    Row i is resource `i % R` on day `i // R` (R resources, enough for `rows` over the
    window), so the file is in date order and every resource has one row a day. A resource's
    dimensions come from a 32-bit integer hash of its number and the seed (the same on every
    DuckDB version); the day's cost varies around the resource's base cost."""
    days = (end - start).days
    per_day = max(1, math.ceil(rows / days))
    weights = []
    acc = 0
    for w in PROVIDER_WEIGHTS[:-1]:
        acc += w
        weights.append(acc)
    salt = seed * 2654435761 % 4294967296
    # mix: the "0x45d9f3b" 32-bit integer hash, in BIGINT arithmetic that cannot overflow.
    return f"""
    CREATE OR REPLACE TEMP MACRO mix1(x) AS (xor(x, x >> 16) * 73244475) % 4294967296;
    CREATE OR REPLACE TEMP MACRO mix2(h) AS xor(h, h >> 16);
    CREATE OR REPLACE TEMP MACRO mix(x) AS mix2(mix1(mix1(x % 4294967296)));
    CREATE OR REPLACE TEMP MACRO rnd(x, k) AS mix(mix(x * 64 + k) + {salt});
    COPY (
        WITH n AS (
            SELECT i, i % {per_day} AS r, i // {per_day} AS d FROM range({rows}) t(i)
        ),
        res AS (
            SELECT *,
                CASE WHEN rnd(r, 1) % 100 < {weights[0]} THEN 0
                     WHEN rnd(r, 1) % 100 < {weights[1]} THEN 1
                     WHEN rnd(r, 1) % 100 < {weights[2]} THEN 2 ELSE 3 END AS p,
                rnd(r, 2) % 15 AS s,
                rnd(r, 3) % 5 AS g,
                rnd(r, 4) % 50 AS a,
                rnd(r, 5) % 100 AS cat,
                rnd(r, 6) % {len(TEAMS)} AS team,
                rnd(r, 7) % 10 AS env,
                rnd(r, 8) % {APPS} AS app,
                (rnd(r, 9) % 10000 + 1) / 100.0
                    * CASE WHEN rnd(r, 10) % 100 < 5 THEN 20 ELSE 1 END AS base,
                0.75 + (rnd(i, 11) % 1000) / 2000.0 AS factor
            FROM n
        ),
        priced AS (SELECT *, round(base * factor, 6) AS billed FROM res)
        SELECT
            billed AS BilledCost,
            round(billed * 0.92, 6) AS EffectiveCost,
            round(billed * 1.15, 6) AS ListCost,
            'USD' AS BillingCurrency,
            CAST(DATE '{start.isoformat()}' + CAST(d AS INTEGER) AS TIMESTAMP) AS ChargePeriodStart,
            CAST(DATE '{start.isoformat()}' + CAST(d + 1 AS INTEGER) AS TIMESTAMP)
                AS ChargePeriodEnd,
            {_sql_list(PROVIDERS)}[p + 1] AS ProviderName,
            {_sql_list(SERVICES)}[p * 15 + s + 1] AS ServiceName,
            {_sql_list([r for group in REGIONS for r in group])}[p * 5 + g + 1] AS RegionId,
            CASE p
                WHEN 0 THEN CAST(100000000000 + (p * 50 + a) * 7919 AS VARCHAR)
                WHEN 1 THEN 'sub-' || lpad(CAST(p * 50 + a AS VARCHAR), 8, '0')
                WHEN 2 THEN 'project-' || lpad(CAST(p * 50 + a AS VARCHAR), 4, '0')
                ELSE 'ocid1.compartment.oc1..' || lpad(CAST(p * 50 + a AS VARCHAR), 6, '0')
            END AS SubAccountId,
            'res-' || p || '-' || lpad(CAST(r AS VARCHAR), 8, '0') AS ResourceId,
            round(billed * 3.7, 4) AS ConsumedQuantity,
            {_sql_list(UNITS)}[(p * 15 + s) % {len(UNITS)} + 1] AS ConsumedUnit,
            CASE WHEN cat < 95 THEN 'Usage' WHEN cat < 98 THEN 'Purchase' ELSE 'Tax' END
                AS ChargeCategory,
            '{{"team":"' || {_sql_list(TEAMS)}[team + 1]
                || '","env":"' || CASE WHEN env < 5 THEN 'prod' WHEN env < 8 THEN 'staging'
                                       ELSE 'dev' END
                || '","app":"app-' || lpad(CAST(app AS VARCHAR), 2, '0') || '"}}' AS Tags
        FROM priced
    ) TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)
    """


def generate(path: Path, rows: int, seed: int, start: date, end: date) -> dict[str, Any]:
    tmp = path.with_suffix(".tmp.parquet")
    t0 = time.perf_counter()
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.execute(focus_sql(tmp, rows, seed, start, end))
    finally:
        con.close()
    tmp.replace(path)
    return {"seconds": round(time.perf_counter() - t0, 1), "mb": round(path.stat().st_size / 1e6)}


# ------------------------------------------------------------------------------------------
# Queries
# ------------------------------------------------------------------------------------------


@dataclass
class Query:
    qid: str
    title: str
    path: str
    body: dict[str, Any]
    raw: list[str]  # DuckDB statements over `{f}` (the Parquet file), all timed together
    target_ms: float | None  # p50, None = not judged on this backend
    ratio_target: float | None = None
    answers: dict[str, Any] = field(default_factory=dict)


def month_add(d: date, months: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    return date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def queries(ds: str, backend: str, start: date, end: date) -> list[Query]:
    m12 = month_add(end, -12)  # first day of the last 12 months
    last = end - timedelta(days=1)
    d31 = end - timedelta(days=31)
    day = end - timedelta(days=16)
    sqlite = backend == "sqlite"
    pq = "read_parquet('{f}')"
    return [
        Query(
            "a",
            "MONTHLY x product, 12 months",
            "/cost-analysis/cost/analyze",
            {
                "query": {
                    "granularity": "MONTHLY",
                    "start": m12.strftime("%Y-%m"),
                    "end": last.strftime("%Y-%m"),
                    "group_by": ["product"],
                    "fields": {"cost": {"key": "cost", "operator": "sum"}},
                }
            },
            [
                "SELECT date_trunc('month', ChargePeriodStart) AS date, ServiceName AS product, "
                f"sum(BilledCost) AS cost FROM {pq} WHERE ChargePeriodStart >= "
                f"TIMESTAMP '{m12}' AND ChargePeriodStart < TIMESTAMP '{end}' GROUP BY ALL"
            ],
            100 if sqlite else 500,
            1.0 if sqlite else None,
        ),
        Query(
            "b",
            "DAILY x provider, 31 days",
            "/cost-analysis/cost/analyze",
            {
                "query": {
                    "granularity": "DAILY",
                    "start": d31.isoformat(),
                    "end": last.isoformat(),
                    "group_by": ["provider"],
                    "fields": {"cost": {"key": "cost", "operator": "sum"}},
                }
            },
            [
                "SELECT CAST(ChargePeriodStart AS DATE) AS date, ProviderName AS provider, "
                f"sum(BilledCost) AS cost FROM {pq} WHERE ChargePeriodStart >= "
                f"TIMESTAMP '{d31}' AND ChargePeriodStart < TIMESTAMP '{end}' GROUP BY ALL"
            ],
            50 if sqlite else None,
        ),
        Query(
            "c",
            "MONTHLY x tags.team, provider eq aws, 12 months",
            "/cost-analysis/cost/analyze",
            {
                "query": {
                    "granularity": "MONTHLY",
                    "start": m12.strftime("%Y-%m"),
                    "end": last.strftime("%Y-%m"),
                    "group_by": ["tags.team"],
                    "filter": [{"k": "provider", "v": "aws", "o": "eq"}],
                    "fields": {"cost": {"key": "cost", "operator": "sum"}},
                }
            },
            [
                "SELECT date_trunc('month', ChargePeriodStart) AS date, "
                "json_extract_string(Tags, '$.team') AS \"tags.team\", sum(BilledCost) AS cost "
                f"FROM {pq} WHERE ProviderName = 'AWS' AND ChargePeriodStart >= "
                f"TIMESTAMP '{m12}' AND ChargePeriodStart < TIMESTAMP '{end}' GROUP BY ALL"
            ],
            250 if sqlite else None,
            1.5 if sqlite else None,
        ),
        Query(
            "d",
            f"cost list: data source + day {day}, page 100",
            "/cost-analysis/cost/list",
            {
                "query": {
                    "filter": [
                        {"key": "data_source_id", "value": ds, "operator": "eq"},
                        {"key": "billed_date", "value": day.isoformat(), "operator": "eq"},
                    ],
                    "page": {"start": 1, "limit": 100},
                }
            },
            [
                f"SELECT count(*) FROM {pq} WHERE ChargePeriodStart = TIMESTAMP '{day}'",
                f"SELECT * FROM {pq} WHERE ChargePeriodStart = TIMESTAMP '{day}' "
                "ORDER BY ResourceId LIMIT 100",
            ],
            30 if sqlite else None,
        ),
    ]


PROVIDER_KEYS = {"AWS": "aws", "Microsoft": "azure", "Google Cloud": "google_cloud"}


def _norm(v: Any) -> Any:
    return PROVIDER_KEYS.get(v, v.lower()) if isinstance(v, str) and v in PROVIDERS else v


def compare(q: Query, api: dict[str, Any], raw: list[list[tuple[Any, ...]]]) -> list[str]:
    """Problems found comparing the API answer with DuckDB's (empty when they agree)."""
    problems: list[str] = []
    if q.qid == "d":
        want = raw[0][0][0]
        if api["total_count"] != want:
            problems.append(f"total_count {api['total_count']} != DuckDB count {want}")
        if len(api["results"]) != min(100, want):
            problems.append(f"{len(api['results'])} results on the page, expected {min(100, want)}")
        return problems
    group = (
        next(k for k in api["results"][0] if k not in ("date", "cost")) if api["results"] else ""
    )
    got = {(r["date"], r.get(group)): r["cost"] for r in api["results"]}
    fmt = "%Y-%m-%d" if q.body["query"].get("granularity") == "DAILY" else "%Y-%m"
    want_map = {(row[0].strftime(fmt), _norm(row[1])): row[2] for row in raw[0]}
    total_got, total_want = sum(got.values()), sum(want_map.values())
    if not math.isclose(total_got, total_want, rel_tol=TOLERANCE):
        problems.append(f"total {total_got:,.6f} != DuckDB {total_want:,.6f}")
    if set(got) != set(want_map):
        problems.append(
            f"{len(got)} groups vs DuckDB {len(want_map)}; e.g. only in API "
            f"{sorted(set(got) - set(want_map), key=str)[:3]}, only in DuckDB "
            f"{sorted(set(want_map) - set(got), key=str)[:3]}"
        )
    else:
        off = [k for k in got if not math.isclose(got[k], want_map[k], rel_tol=TOLERANCE)]
        if off:
            problems.append(f"{len(off)} groups differ, e.g. {off[0]}: {got[off[0]]} vs DuckDB")
    q.answers = {"groups": len(got), "total": total_got, "duckdb_total": total_want}
    return problems


# ------------------------------------------------------------------------------------------
# Server-side steps
# ------------------------------------------------------------------------------------------


def proc_status(pid: int, key: str) -> int:
    """A /proc/<pid>/status memory figure (VmHWM, VmRSS) in KiB; 0 if unreadable."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux ≥ 4.0, same user)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def sync(c: httpx.Client, pid: int, ds: str, timeout: float) -> dict[str, Any]:
    rss_before = proc_status(pid, "VmRSS")
    peak_reset = reset_peak(pid)
    sampled = 0
    t0 = time.perf_counter()
    job = inv.post(
        c, "/cost-analysis/data-source/sync", json.dumps({"data_source_id": ds}).encode()
    )
    job_id = job.json()["job_id"]
    deadline = t0 + timeout
    while True:
        sampled = max(sampled, proc_status(pid, "VmRSS"))
        state = inv.post(c, "/cost-analysis/job/get", json.dumps({"job_id": job_id}).encode())
        state = state.json()
        if state["status"] != "IN_PROGRESS":
            break
        if time.perf_counter() > deadline:
            raise RuntimeError(f"sync {job_id} still IN_PROGRESS after {timeout:.0f} s")
        time.sleep(0.1)
    elapsed = time.perf_counter() - t0
    if state["status"] != "SUCCESS":
        raise RuntimeError(f"sync {job_id} ended {state['status']}: {state.get('reason')}")
    hwm = proc_status(pid, "VmHWM")
    return {
        "job_id": job_id,
        "seconds": round(elapsed, 2),
        "rows": state["total_rows"],
        "months": len(state.get("months") or []),
        "rows_per_s": round(state["total_rows"] / elapsed),
        "rss_before_mb": round(rss_before / 1024),
        "peak_rss_mb": round(max(hwm, sampled) / 1024),
        "peak_is_lifetime": not peak_reset,
    }


def pg_analyze(dsn: str) -> float:
    import psycopg

    t0 = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE costs")
        conn.execute("VACUUM ANALYZE cost_monthly")
    return time.perf_counter() - t0


def http_bench(c: httpx.Client, q: Query, args: argparse.Namespace) -> dict[str, Any]:
    body = json.dumps(q.body).encode()
    first = inv.post(c, q.path, body).json()
    inv.post(c, q.path, body)  # warm-up
    lat = inv.measure(lambda: inv.post(c, q.path, body), args.requests, args.duration)
    return {
        "answer": first,
        "n": len(lat),
        "p50_ms": round(inv.pct(lat, 0.5), 2),
        "p99_ms": round(inv.pct(lat, 0.99), 2),
    }


def duck_bench(
    con: duckdb.DuckDBPyConnection, q: Query, parquet: Path, runs: int
) -> tuple[float, list[list[tuple[Any, ...]]]]:
    stmts = [s.replace("{f}", str(parquet)) for s in q.raw]

    def run() -> list[list[tuple[Any, ...]]]:
        return [con.execute(s).fetchall() for s in stmts]

    out = run()  # warm-up (and the answer)
    lat = inv.measure(run, runs, 60, minimum=runs)
    return round(inv.pct(lat, 0.5), 2), out


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("PASS" if ok else "FAIL")


def report(res: dict[str, Any]) -> str:
    lines: list[str] = []
    m = res["machine"]
    g, s = res["generate"], res["sync"]
    sqlite = res["backend"] == "sqlite"
    lines.append("")
    lines.append(
        f"skyatlas cost benchmark — {res['rows']:,} rows, backend {res['backend']} "
        f"(cost store: {'DuckDB' if sqlite else 'PostgreSQL'}); machine: {m['nproc']} CPUs, "
        f"{m['ram_gib']} GiB RAM, {m['cpu']}; Python {m['python']}, DuckDB {duckdb.__version__}"
    )
    lines.append(
        f"data: {res['window'][0]} .. {res['window'][1]} (24 months), Parquet {g['mb']:,} MB"
        + (f", generated in {g['seconds']} s" if "seconds" in g else " (cached)")
        + f"; server ready in {res['server_start_s']} s; load average (1 min) before "
        f"{res['load_before']:.2f}, after {res['load_after']:.2f}"
    )
    ingest_ok = s["rows_per_s"] >= 500_000 if sqlite else None
    rss_ok = s["peak_rss_mb"] <= 1024 if sqlite else None
    lines.append(
        f"ingest: {s['rows']:,} rows ({s['months']} months) in {s['seconds']} s = "
        f"{s['rows_per_s']:,} rows/s end to end (sync request → SUCCESS)  "
        f"(target ≥ 500,000 rows/s: {verdict(ingest_ok)})"
    )
    lines.append(
        f"server peak RSS during the sync: {s['peak_rss_mb']:,} MB "
        f"(before: {s['rss_before_mb']:,} MB{'; lifetime peak' if s['peak_is_lifetime'] else ''})"
        f"  (target ≤ 1,024 MB: {verdict(rss_ok)})"
    )
    if "analyze_s" in res:
        lines.append(f"VACUUM ANALYZE costs, cost_monthly after the sync: {res['analyze_s']} s")
    lines.append("")
    head = (
        f"{'q':<2} {'query':<52} {'p50 ms':>8} {'p99 ms':>8} {'DuckDB p50':>10} {'ratio':>6}  "
        f"{'target':<26} verdict"
    )
    lines.append(head)
    lines.append("-" * len(head))
    for r in res["queries"]:
        targets = []
        oks: list[bool] = []
        if r["target_ms"] is not None:
            targets.append(f"p50 ≤ {r['target_ms']:g} ms")
            oks.append(r["p50_ms"] <= r["target_ms"])
        if r["ratio_target"] is not None:
            targets.append(f"ratio ≤ {r['ratio_target']:g}")
            oks.append(r["ratio"] <= r["ratio_target"])
        if r["problems"]:
            oks.append(False)
        lines.append(
            f"{r['qid']:<2} {r['title'][:52]:<52} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
            f"{r['duck_p50_ms']:>10.1f} {r['ratio']:>6.2f}  {', '.join(targets) or '-':<26} "
            f"{verdict(all(oks) if oks else None)}"
        )
    lines.append(
        f"(HTTP: sequential keep-alive client, {res['requests']} requests after a warm-up; "
        f"DuckDB: plain SQL on the Parquet file in this process, p50 of {res['duck_runs']} runs; "
        "ratio = HTTP p50 / DuckDB p50)"
    )
    for r in res["queries"]:
        ans = r["answers"]
        if r["qid"] == "d":
            detail = f"total_count {r['total_count']:,}"
        else:
            detail = f"{ans.get('groups', 0)} groups, total {ans.get('total', 0):,.2f}"
        status = "FAIL " + "; ".join(r["problems"]) if r["problems"] else "answers match DuckDB"
        lines.append(f"  ({r['qid']}) {detail}: {status}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    work: Path = args.workdir
    start, end = data_window()
    parquet = work / f"focus-{args.rows}-seed{args.seed}-{start:%Y%m}-{end:%Y%m}.parquet"
    res: dict[str, Any] = {
        "rows": args.rows,
        "backend": args.backend,
        "machine": inv.machine(),
        "window": [start.isoformat(), (end - timedelta(days=1)).isoformat()],
        "requests": args.requests,
        "duck_runs": args.duck_requests,
        "load_before": round(os.getloadavg()[0], 2),
    }
    if parquet.exists():
        res["generate"] = {"mb": round(parquet.stat().st_size / 1e6)}
        inv.log(f"using cached {parquet}")
    else:
        inv.log(f"generating {args.rows:,} FOCUS rows into {parquet}")
        res["generate"] = generate(parquet, args.rows, args.seed, start, end)
        inv.log(f"generated in {res['generate']['seconds']} s, {res['generate']['mb']} MB")

    data_dir = work / f"data-{args.backend}"
    shutil.rmtree(data_dir, ignore_errors=True)
    env = {**os.environ, "SKYATLAS_SECRET_KEY": inv.SECRET_KEY, "SKYATLAS_IMPORT_ROOTS": str(work)}
    env.pop("SKYATLAS_DATABASE_URL", None)
    with contextlib.ExitStack() as stack:
        db_url = dsn = None
        if args.backend == "postgres":
            db_url, dsn = stack.enter_context(inv.pg_database(args.pg_admin, keep=args.keep))
        server = inv.Server(data_dir, env, db_url, work / f"serve-{args.backend}.log")
        stack.callback(server.stop)
        res["server_start_s"] = round(server.wait_ready(), 2)
        boot = json.loads((data_dir / "bootstrap.json").read_text())
        c = stack.enter_context(inv.client(server.url, boot["client_secret"]))
        ds = inv.post(
            c,
            "/cost-analysis/data-source/register",
            json.dumps(
                {
                    "name": "bench-focus",
                    "plugin_info": {"plugin_id": "focus", "options": {"path": str(parquet)}},
                    "workspace_id": boot["workspace_id"],
                }
            ).encode(),
        ).json()["data_source_id"]
        inv.log(f"syncing {args.rows:,} rows through the focus plugin (data source {ds})")
        res["sync"] = sync(c, server.proc.pid, ds, args.sync_timeout)
        s = res["sync"]
        inv.log(
            f"synced in {s['seconds']} s: {s['rows_per_s']:,} rows/s, "
            f"server peak RSS {s['peak_rss_mb']} MB"
        )
        if s["rows"] != args.rows:
            raise RuntimeError(f"the sync loaded {s['rows']:,} rows, expected {args.rows:,}")
        if dsn is not None and args.analyze:
            res["analyze_s"] = round(pg_analyze(dsn), 2)
            inv.log(f"VACUUM ANALYZE: {res['analyze_s']} s")

        duck = duckdb.connect()
        stack.callback(duck.close)
        res["queries"] = []
        for q in queries(ds, args.backend, start, end):
            h = http_bench(c, q, args)
            duck_p50, raw = duck_bench(duck, q, parquet, args.duck_requests)
            problems = compare(q, h["answer"], raw)
            row = {
                "qid": q.qid,
                "title": q.title,
                "p50_ms": h["p50_ms"],
                "p99_ms": h["p99_ms"],
                "n": h["n"],
                "duck_p50_ms": duck_p50,
                "ratio": round(h["p50_ms"] / duck_p50, 3) if duck_p50 else math.nan,
                "target_ms": q.target_ms,
                "ratio_target": q.ratio_target,
                "total_count": h["answer"].get("total_count"),
                "answers": q.answers,
                "problems": problems,
            }
            res["queries"].append(row)
            inv.log(
                f"({q.qid}) {q.title}: p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms; "
                f"DuckDB p50 {duck_p50} ms; ratio {row['ratio']:.2f}"
            )
            for p in problems:
                print(f"FAIL ({q.qid}) API answer differs from DuckDB: {p}", flush=True)
    res["load_after"] = round(os.getloadavg()[0], 2)
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="cost rows to generate")
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "skyatlas-bench-cost",
        help="where the Parquet file is cached and the store lives (default: %(default)s)",
    )
    ap.add_argument("--requests", type=int, default=30, help="HTTP requests per query")
    ap.add_argument("--duration", type=float, default=60.0, help="max seconds per query")
    ap.add_argument("--duck-requests", type=int, default=5, help="DuckDB runs per query")
    ap.add_argument("--seed", type=int, default=0, help="generator seed")
    ap.add_argument("--sync-timeout", type=float, default=3600.0, help="seconds")
    ap.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument(
        "--no-analyze",
        dest="analyze",
        action="store_false",
        help="PostgreSQL: skip VACUUM ANALYZE after the sync",
    )
    ap.add_argument(
        "--keep", action="store_true", help="keep the data directory (and the PG database)"
    )
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target check fails")
    args = ap.parse_args(argv)
    if args.rows < 1:
        ap.error("--rows must be positive")
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.workdir = args.workdir.resolve()
    t0 = time.perf_counter()
    res = run(args)
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    out = args.workdir / f"cost-{args.backend}-{args.rows}.json"
    out.write_text(json.dumps(res, indent=2, default=str))
    print(report(res))
    print(f"\nwall time {res['wall_s']} s; results: {out}")
    failed = any(r["problems"] for r in res["queries"])  # a wrong answer always fails
    if args.strict:
        sqlite = args.backend == "sqlite"
        s = res["sync"]
        failed |= sqlite and (s["rows_per_s"] < 500_000 or s["peak_rss_mb"] > 1024)
        for r in res["queries"]:
            failed |= r["target_ms"] is not None and r["p50_ms"] > r["target_ms"]
            failed |= r["ratio_target"] is not None and r["ratio"] > r["ratio_target"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
