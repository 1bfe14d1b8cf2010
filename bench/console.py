#!/usr/bin/env python3
"""Web console benchmark: server time of every console page over the big stores.

    .venv/bin/python bench/console.py [--count 1000000] [--rows 10000000] [--requests 10]
        [--workdir /tmp/skyatlas-bench-console]

1. The inventory store: `--count` generated resources imported with `skyatlas import
   cloud-services` (the inventory benchmark's generator and importer), kept in the work
   directory and reused by later runs (delete `data/` to rebuild).
2. The cost store: the cost benchmark's `--rows` FOCUS Parquet file synced through the `focus`
   plugin into the same store (once; reused).
3. `skyatlas serve` on that store; sign in to the console as `admin` over HTTP (the first run
   changes the bootstrap password; the new one is kept in the work directory).
4. Each page is fetched `--requests` times in a row (after one warm-up): its server time (the
   `Server-Timing: app;dur=` header the console sets: from the request's arrival to the last
   byte rendered) and the wall time seen by the client, p50 and max, next to the target of the
   issue (300 ms per page, 500 ms for the cost chart). Pages answer 200 or the run fails.

Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cost as costbench
import inventory as inv

PAGE_TARGET_MS = 300.0
CHART_TARGET_MS = 500.0
PASSWORD_FILE = "console-admin-password.txt"
NEW_PASSWORD = "bench-Console-2026"


def build_inventory(work: Path, data_dir: Path, count: int, env: dict[str, str]) -> dict[str, Any]:
    if (data_dir / "skyatlas.db").exists():
        inv.log(f"using the store in {data_dir}")
        return {"cached": True}
    jsonl = work / f"resources-{count}.jsonl"
    out: dict[str, Any] = {}
    if not jsonl.exists():
        inv.log(f"generating {count:,} resources")
        out["generate"] = inv.generate(jsonl, count, 0)
    inv.log(f"importing {count:,} resources into {data_dir}")
    out["import"] = inv.run_import(jsonl, data_dir, env, None, count, work / "import.log")
    inv.log(f"imported at {out['import']['records_per_s']:,}/s")
    return out


def ensure_costs(c: httpx.Client, work: Path, pid: int, rows: int) -> dict[str, Any]:
    found = c.post("/cost-analysis/data-source/list", json={"name": "bench-focus"}).json()
    if found.get("results"):
        inv.log("using the synced cost data")
        return {"cached": True, "data_source_id": found["results"][0]["data_source_id"]}
    start, end = costbench.data_window()
    parquet = work / f"focus-{rows}-seed0-{start:%Y%m}-{end:%Y%m}.parquet"
    if not parquet.exists():
        inv.log(f"generating {rows:,} FOCUS rows")
        costbench.generate(parquet, rows, 0, start, end)
    boot = json.loads((work / "data" / "bootstrap.json").read_text())
    ds = c.post(
        "/cost-analysis/data-source/register",
        json={
            "name": "bench-focus",
            "plugin_info": {"plugin_id": "focus", "options": {"path": str(parquet)}},
            "workspace_id": boot["workspace_id"],
        },
    ).json()["data_source_id"]
    inv.log(f"syncing {rows:,} cost rows")
    result = costbench.sync(c, pid, ds, 7200)
    result["data_source_id"] = ds
    return result


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if not found:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1)


def sign_in(base: str, work: Path, boot: dict[str, Any]) -> httpx.Client:
    """A console session as `admin`; the first run replaces the bootstrap password."""
    saved = work / PASSWORD_FILE
    password = saved.read_text().strip() if saved.exists() else boot["admin_password"]
    c = httpx.Client(base_url=base, trust_env=False, timeout=120, follow_redirects=True)
    answer = c.post("/console/sign-in", data={"user_id": "admin", "password": password})
    if answer.status_code != 200:
        raise RuntimeError(f"sign-in failed: {answer.status_code}")
    if str(answer.url).endswith("/console/password"):
        changed = c.post(
            "/console/password",
            data={
                "csrf_token": _csrf(answer.text),
                "current_password": password,
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
            },
        )
        if changed.status_code != 200:
            raise RuntimeError(f"password change failed: {changed.status_code}")
        saved.write_text(NEW_PASSWORD + "\n")
    return c


def pages(api: httpx.Client, ds: str) -> list[tuple[str, str, float]]:
    """(title, path, target ms) for every page, with ids taken from the store."""
    some = api.post(
        "/inventory/cloud-service/list",
        json={"query": {"page": {"limit": 1}, "only": ["cloud_service_id"]}},
    ).json()["results"][0]["cloud_service_id"]
    today = time.gmtime()
    end = f"{today.tm_year:04d}-{today.tm_mon:02d}"
    start = f"{today.tm_year - 1:04d}-{today.tm_mon:02d}"
    return [
        ("overview (resources by provider)", "/console/", PAGE_TARGET_MS),
        ("inventory: first page", "/console/inventory", PAGE_TARGET_MS),
        (
            "inventory: counts panel (loaded after the page)",
            "/console/inventory/counts",
            PAGE_TARGET_MS,
        ),
        (
            "inventory: aws, sorted by name desc",
            "/console/inventory?provider=aws&sort=-name",
            PAGE_TARGET_MS,
        ),
        ("inventory: page 1,000", "/console/inventory?start=20001&limit=20", PAGE_TARGET_MS),
        ("inventory: keyword", "/console/inventory?keyword=prod-web", PAGE_TARGET_MS),
        ("resource page (with its cost)", f"/console/inventory/{some}", PAGE_TARGET_MS),
        ("explorer: empty filter", "/console/explorer", PAGE_TARGET_MS),
        (
            "explorer: tag.key=env&tag.value=prod",
            "/console/explorer?filter_string=tag.key%3Denv%26tag.value%3Dprod",
            PAGE_TARGET_MS,
        ),
        (
            "explorer: custom tag choices (loaded after the page)",
            "/console/explorer/tag-choices",
            PAGE_TARGET_MS,
        ),
        ("tags (custom)", "/console/tags", PAGE_TARGET_MS),
        ("IAM apps", "/console/iam/apps", PAGE_TARGET_MS),
        ("IAM projects", "/console/iam/projects", PAGE_TARGET_MS),
        ("IAM service accounts", "/console/iam/service-accounts", PAGE_TARGET_MS),
        ("collectors", "/console/collectors", PAGE_TARGET_MS),
        ("cost data sources", "/console/cost/data-sources", PAGE_TARGET_MS),
        ("cost budgets", "/console/cost/budgets", PAGE_TARGET_MS),
        (
            "cost chart: MONTHLY x provider, 12 months",
            f"/console/cost/analysis?granularity=MONTHLY&start={start}&end={end}"
            f"&group_by=provider&data_source_id={ds}",
            CHART_TARGET_MS,
        ),
        (
            "cost chart: MONTHLY x product, 12 months",
            f"/console/cost/analysis?granularity=MONTHLY&start={start}&end={end}"
            f"&group_by=product&data_source_id={ds}",
            CHART_TARGET_MS,
        ),
        (
            "cost chart: DAILY x provider, this month",
            f"/console/cost/analysis?granularity=DAILY&group_by=provider&data_source_id={ds}",
            CHART_TARGET_MS,
        ),
    ]


def time_page(c: httpx.Client, path: str, requests: int) -> dict[str, Any]:
    server: list[float] = []
    wall: list[float] = []
    for i in range(requests + 1):
        t0 = time.perf_counter()
        answer = c.get(path)
        elapsed = (time.perf_counter() - t0) * 1000
        if answer.status_code != 200:
            raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[-500:]}")
        if "/console/sign-in" in str(answer.url):
            raise RuntimeError(f"{path} sent the benchmark to sign-in")
        if i == 0:
            continue  # warm-up
        timing = answer.headers.get("server-timing", "")
        found = re.search(r"dur=([0-9.]+)", timing)
        server.append(float(found.group(1)) if found else float("nan"))
        wall.append(elapsed)
    return {
        "server_p50_ms": round(statistics.median(server), 1),
        "server_max_ms": round(max(server), 1),
        "wall_p50_ms": round(statistics.median(wall), 1),
        "bytes": len(answer.content),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1_000_000, help="resources in the store")
    ap.add_argument("--rows", type=int, default=10_000_000, help="cost rows in the store")
    ap.add_argument("--requests", type=int, default=10, help="timed requests per page")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/skyatlas-bench-console"))
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)

    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    data_dir = work / "data"
    env = {**os.environ, "SKYATLAS_SECRET_KEY": inv.SECRET_KEY, "SKYATLAS_IMPORT_ROOTS": str(work)}
    env.pop("SKYATLAS_DATABASE_URL", None)
    res: dict[str, Any] = {"machine": inv.machine(), "count": args.count, "rows": args.rows}
    res["inventory"] = build_inventory(work, data_dir, args.count, env)
    server = inv.Server(data_dir, env, None, work / "serve.log")
    try:
        res["server_start_s"] = round(server.wait_ready(600), 2)
        boot = json.loads((data_dir / "bootstrap.json").read_text())
        with inv.client(server.url, boot["client_secret"]) as api:
            res["costs"] = ensure_costs(api, work, server.proc.pid, args.rows)
            ds = res["costs"]["data_source_id"]
            res["load_before"] = round(os.getloadavg()[0], 2)
            console = sign_in(server.url, work, boot)
            try:
                res["pages"] = []
                for title, path, target in pages(api, ds):
                    row = {"title": title, "path": path, "target_ms": target}
                    row.update(time_page(console, path, args.requests))
                    row["ok"] = row["server_p50_ms"] <= target
                    res["pages"].append(row)
                    inv.log(
                        f"{title}: server p50 {row['server_p50_ms']} ms "
                        f"(max {row['server_max_ms']}), wall p50 {row['wall_p50_ms']} ms "
                        f"[target {target:.0f}] {'ok' if row['ok'] else 'MISSED'}"
                    )
            finally:
                console.close()
        res["load_after"] = round(os.getloadavg()[0], 2)
    finally:
        server.stop()
    (work / "console-results.json").write_text(json.dumps(res, indent=2))
    print()
    print(f"Console pages over {args.count:,} resources and {args.rows:,} cost rows")
    print(f"load {res['load_before']} -> {res['load_after']}; {args.requests} requests per page")
    print("| page | server p50 ms | server max ms | wall p50 ms | target ms | |")
    print("|---|---:|---:|---:|---:|---|")
    for row in res["pages"]:
        print(
            f"| {row['title']} | {row['server_p50_ms']} | {row['server_max_ms']} | "
            f"{row['wall_p50_ms']} | {row['target_ms']:.0f} | {'ok' if row['ok'] else 'MISSED'} |"
        )
    missed = [r for r in res["pages"] if not r["ok"]]
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    raise SystemExit(main())
