"""Resource Explorer benchmark: search latency, tag-operation latency and throughput.

    .venv/bin/python bench/explorer.py --count 1000000 [--backend sqlite|postgres] [--requests 50]

1. Generate `--count` resources with the demo generator (the inventory benchmark's data).
2. Start `skyatlas serve` on an empty store, create a project, and import the file into it
   (`skyatlas import cloud-services --project-id`), while the server runs.
3. Search over HTTP (`X-Auth-Token`), sequentially: p50 / p99 and total_count of each query, and
   the SpaceONE-dialect list of the same filter on the same store (the ratio).
4. Tag operations: create a tag, PATCH it onto 100 KCRNs and time until search sees all 100;
   then queue 1,000 PATCHes at once and time the drain, checking every one SUCCEEDED, in order.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import inventory as inv

QUERIES: list[dict[str, Any]] = [
    {
        "id": "core",
        "what": "service=EC2&resource_type=Instance&region=eu-central-1, limit 50",
        "explorer": {
            "filter": {"filter_string": "service=EC2&resource_type=Instance&region=eu-central-1"},
            "limit": 50,
        },
        "spaceone": {
            "query": {
                "filter": [
                    {"k": "cloud_service_group", "v": "EC2"},
                    {"k": "cloud_service_type", "v": "Instance"},
                    {"k": "region_code", "v": "eu-central-1"},
                ],
                "page": {"start": 1, "limit": 50},
            }
        },
        "target_ms": 15,
    },
    {
        "id": "tag",
        "what": "tag.key=env&tag.value=prod, limit 50",
        "explorer": {"filter": {"filter_string": "tag.key=env&tag.value=prod"}, "limit": 50},
        "spaceone": {
            "query": {
                "filter": [{"k": "tags.aws.env", "v": "prod"}],
                "page": {"start": 1, "limit": 50},
            }
        },
        "target_ms": 15,
    },
    {
        "id": "contains",
        "what": "resource_name=*web*, limit 50",
        "explorer": {"filter": {"filter_string": "resource_name=*web*"}, "limit": 50},
        "spaceone": {
            "query": {
                "filter": [{"k": "name", "v": "web", "o": "contain"}],
                "page": {"start": 1, "limit": 50},
            }
        },
        "target_ms": 150,
    },
    {
        "id": "kcrn",
        "what": "filter_kcrn kcrn:eu-*:*:EC2:Instance:i-0*, limit 50",
        "explorer": {"filter": {"filter_kcrn": "kcrn:eu-*:*:EC2:Instance:i-0*"}, "limit": 50},
        "spaceone": None,
        "target_ms": 20,
    },
]


#: The issue's other limits: p99 of the two core searches, and the explorer's p50 against the
#: SpaceONE list of the same filter on the same store.
P99_CHECKED = ("core", "tag")
P99_TARGET_MS = 50
MAX_RATIO = 1.5
#: Queries whose SpaceONE filter selects the same resources (the tag query's `tags.aws.env`
#: reads one provider's tags, the explorer's `tag.key=env` every provider's).
SAME_TOTAL = ("core", "contains")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def p(samples: list[float], q: float) -> float:
    return inv.pct(samples, q)


def search_bench(c: httpx.Client, args: argparse.Namespace) -> list[dict[str, Any]]:
    out = []
    for q in QUERIES:
        body = json.dumps(q["explorer"]).encode()

        def explorer(body: bytes = body) -> Any:
            r = c.post("/api/v1/resources/search", content=body)
            assert r.status_code == 200, r.text
            return r.json()

        total = explorer()["total_count"]
        lat = inv.measure(explorer, args.requests, args.duration)
        row: dict[str, Any] = {
            "id": q["id"],
            "what": q["what"],
            "total_count": total,
            "p50_ms": p(lat, 0.5),
            "p99_ms": p(lat, 0.99),
            "target_ms": q["target_ms"],
        }
        if q["spaceone"]:
            sbody = json.dumps(q["spaceone"]).encode()

            def spaceone(sbody: bytes = sbody) -> Any:
                return inv.post(c, "/inventory/cloud-service/list", sbody).json()

            row["spaceone_total"] = spaceone()["total_count"]
            slat = inv.measure(spaceone, args.requests, args.duration)
            row["spaceone_p50_ms"] = p(slat, 0.5)
            row["ratio"] = row["p50_ms"] / row["spaceone_p50_ms"]
        out.append(row)
        inv.log(f"  {q['id']}: p50 {row['p50_ms']:.1f} ms, total {total:,}")
    return out


def wait_op(c: httpx.Client, op: str, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = c.get(f"/api/v1/operations/{op}").json()["operation"]
        if state["state"] in ("SUCCEEDED", "FAILED") or time.monotonic() > deadline:
            return state
        time.sleep(0.01)


def tag_bench(c: httpx.Client, project: str, ops: int) -> dict[str, Any]:
    made = c.post(
        "/api/v1/tags",
        json={"tags": [{"key": "bench", "value": str(time.time_ns())}], "project_id": project},
    ).json()
    tag = made["tags"][0]
    assert wait_op(c, made["operation_id"])["state"] == "SUCCEEDED"
    found = c.post(
        "/api/v1/resources/search",
        json={"filter": {"filter_kcrn": f"kcrn:*:{project}:EC2:Instance:*"}, "limit": 100},
    ).json()
    kcrns = [r["kcrn"] for r in found["resources"]]
    assert len(kcrns) == 100
    probe = {"filter": {"filter_string": f"tag.key=bench&tag.value={tag['value']}"}, "limit": 1}
    latencies = []
    for attempt in range(5):
        connect, disconnect = ([tag["tag_id"]], []) if attempt % 2 == 0 else ([], [tag["tag_id"]])
        want = 100 if attempt % 2 == 0 else 0
        r = c.patch(
            "/api/v1/tags",
            json={"kcrns": kcrns, "connect_tag_ids": connect, "disconnect_tag_ids": disconnect},
        )
        t0 = time.perf_counter()
        assert r.status_code == 202, r.text
        while c.post("/api/v1/resources/search", json=probe).json()["total_count"] != want:
            time.sleep(0.002)
        latencies.append(time.perf_counter() - t0)
    # 1,000 operations queued as fast as one client can send them, then drained.
    accepted = []
    t0 = time.perf_counter()
    for i in range(ops):
        connect, disconnect = ([tag["tag_id"]], []) if i % 2 == 0 else ([], [tag["tag_id"]])
        r = c.patch(
            "/api/v1/tags",
            json={
                "kcrns": kcrns[: 1 + i % 10],
                "connect_tag_ids": connect,
                "disconnect_tag_ids": disconnect,
            },
        )
        assert r.status_code == 202, r.text
        accepted.append(r.json()["operation_id"])
    accept_s = time.perf_counter() - t0
    states = [wait_op(c, op) for op in accepted]
    drain_s = time.perf_counter() - t0
    finished = [s["finished_at"] for s in states]
    # The last attempt above attached the tag to all 100; replaying the queued operations one
    # by one in acceptance order gives the set search must now find.
    expected = set(kcrns)
    for i in range(ops):
        (expected.update if i % 2 == 0 else expected.difference_update)(kcrns[: 1 + i % 10])
    found_after = c.post("/api/v1/resources/search", json=probe).json()["total_count"]
    return {
        "visible_p50_ms": statistics.median(latencies) * 1000,
        "visible_max_ms": max(latencies) * 1000,
        "ops": ops,
        "accept_s": accept_s,
        "drain_s": drain_s,
        "succeeded": sum(s["state"] == "SUCCEEDED" for s in states),
        "in_order": finished == sorted(finished),
        "final_expected": len(expected),
        "final_found": found_after,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--ops", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="skyatlas-bench-explorer-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {inv.machine()}")
    jsonl = work / f"cloud-services-{args.count}-seed{args.seed}.jsonl"
    if not jsonl.exists():
        inv.log(f"generating {args.count:,} resources")
        inv.generate(jsonl, args.count, args.seed)
    env = dict(os.environ, SKYATLAS_SECRET_KEY=inv.SECRET_KEY)
    data_dir = work / f"data-{args.backend}"
    with (
        inv.pg_database(args.pg_admin, keep=False)
        if args.backend == "postgres"
        else contextlib.nullcontext()
    ) as pg:
        db_url = pg[0] if pg else None
        server = inv.Server(data_dir, env, db_url, work / "serve.log")
        try:
            server.wait_ready()
            token = json.loads((data_dir / "bootstrap.json").read_text())["client_secret"]
            c = inv.client(server.url, token)
            c.headers["X-Auth-Token"] = token
            ws = json.loads((data_dir / "bootstrap.json").read_text())["workspace_id"]
            project = inv.post(
                c,
                "/identity/project/create",
                json.dumps({"name": "bench", "workspace_id": ws}).encode(),
            ).json()["project_id"]
            inv.log(f"importing {args.count:,} resources into {project}")
            t0 = time.perf_counter()
            cmd = [*inv.skyatlas_cmd(), "import", "cloud-services", str(jsonl)]
            cmd += ["--data-dir", str(data_dir), "--project-id", project]
            cmd += ["--database-url", db_url] if db_url else []
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
            inv.log(f"imported in {time.perf_counter() - t0:.0f} s")
            rows = search_bench(c, args)
            tags = tag_bench(c, project, args.ops)
        finally:
            server.stop()
    print()
    print(f"Resource Explorer, {args.backend}, {args.count:,} resources, sequential client")
    print(f"{'query':<62} {'total':>9} {'p50 ms':>8} {'p99 ms':>8} {'SpaceONE':>9} {'ratio':>6}")
    for r in rows:
        checks = [f"p50 ≤ {r['target_ms']} ms: {verdict(r['p50_ms'] <= r['target_ms'])}"]
        if r["id"] in P99_CHECKED:
            checks.append(f"p99 ≤ {P99_TARGET_MS} ms: {verdict(r['p99_ms'] <= P99_TARGET_MS)}")
        so = ratio = "-"
        if "ratio" in r:
            so, ratio = f"{r['spaceone_p50_ms']:.1f}", f"{r['ratio']:.2f}"
            checks.append(f"ratio ≤ {MAX_RATIO}: {verdict(r['ratio'] <= MAX_RATIO)}")
            if r["id"] in SAME_TOTAL:
                same = r["spaceone_total"] == r["total_count"]
                checks.append(f"same total as SpaceONE: {verdict(same)}")
        print(
            f"{r['what']:<62} {r['total_count']:>9,} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
            f"{so:>9} {ratio:>6}  ({'; '.join(checks)})"
        )
    print(
        f"PATCH 1 tag on 100 KCRNs visible to search: p50 {tags['visible_p50_ms']:.0f} ms, "
        f"max {tags['visible_max_ms']:.0f} ms (≤ 250 ms: {verdict(tags['visible_max_ms'] <= 250)})"
    )
    drained = tags["succeeded"] == tags["ops"] and tags["in_order"]
    replayed = tags["final_found"] == tags["final_expected"]
    print(
        f"{tags['ops']:,} queued PATCHes: accepted in {tags['accept_s']:.1f} s, all applied after "
        f"{tags['drain_s']:.1f} s; {tags['succeeded']:,} SUCCEEDED, in order: {tags['in_order']} "
        f"({verdict(drained)}); search finds {tags['final_found']} tagged, replaying them one by "
        f"one gives {tags['final_expected']} ({verdict(replayed)})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
