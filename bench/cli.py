"""CLI benchmark: start-up to first request, and `--all` throughput and memory.

    .venv/bin/python bench/cli.py [--runs 15] [--count 25000]

1. **Start-up to first request.** A bare TCP listener stands in for the server: the clock starts
   when the process is spawned and stops when the CLI's first request arrives (the listener
   answers a fixed reflection and an empty list). The same is measured for `python -c pass`
   (interpreter floor) and for `skyatlas --version` to exit (the Typer path). Target ≤ 0.3 s.
2. **`--all -o csv`** over `--count` generated resources on a real `skyatlas serve`: wall time,
   rows/s and the CLI's peak RSS, next to one page (`-r 1000`) as the memory baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REFLECTION = json.dumps(
    {"services": [{"name": "inventory", "resources": [{"name": "region", "verbs": ["list"]}]}]}
).encode()
EMPTY = b'{"results": [], "total_count": 0}'


def skyatlas() -> list[str]:
    exe = Path(sys.executable).with_name("skyatlas")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "skyatlas"]


def answer(conn: socket.socket, body: bytes) -> None:
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    conn.sendall(head.encode() + body)
    conn.close()


def startup(runs: int, home: Path) -> dict[str, float]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    env = dict(
        os.environ,
        SKYATLAS_ENDPOINT=f"http://127.0.0.1:{srv.getsockname()[1]}",
        SKYATLAS_TOKEN="bench",
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
    )
    first: list[float] = []
    for i in range(runs):
        shutil.rmtree(home / "cache", ignore_errors=True)  # cold cache: the reflection is fetched
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [*skyatlas(), "inventory", "list", "Region"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        conn, _ = srv.accept()
        first.append(time.perf_counter() - t0)
        request = conn.recv(65536)
        answer(conn, REFLECTION if b"/api/reflection" in request else EMPTY)
        if b"/api/reflection" in request:
            conn, _ = srv.accept()
            conn.recv(65536)
            answer(conn, EMPTY)
        proc.wait(30)
        if i == 0:
            first.pop()  # the first run also warms the OS file cache
    srv.close()

    def wall(cmd: list[str]) -> float:
        times = []
        for _ in range(max(3, runs // 2)):
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    return {
        "first_request_p50": statistics.median(first),
        "first_request_max": max(first),
        "python_floor": wall([sys.executable, "-c", "pass"]),
        "version_wall": wall([*skyatlas(), "--version"]),
    }


def peak_rss(cmd: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """(seconds, peak RSS in KiB, output lines) of one run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    lines = sum(1 for _ in proc.stdout)  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, cmd
    return time.perf_counter() - t0, usage.ru_maxrss, lines


def all_pages(count: int, home: Path) -> dict[str, float]:
    import orjson

    from skyatlas.inventory.generator import generate_cloud_services

    source = home / "resources.jsonl"
    with source.open("wb") as fh:
        for record in generate_cloud_services(count, seed=11):
            fh.write(orjson.dumps(record) + b"\n")
    data = home / "data"
    subprocess.run(
        [*skyatlas(), "import", "cloud-services", str(source), "--data-dir", str(data)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [*skyatlas(), "serve", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import httpx

        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(url + "/check").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        token = json.loads((data / "bootstrap.json").read_text())["client_secret"]
        env = dict(
            os.environ,
            SKYATLAS_ENDPOINT=url,
            SKYATLAS_TOKEN=token,
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_CACHE_HOME=str(home / "cache"),
        )
        base = [*skyatlas(), "inventory", "list", "CloudService", "-o", "csv"]
        page_s, page_rss, _ = peak_rss([*base, "-r", "1000"], env)
        all_s, all_rss, rows = peak_rss([*base, "--all"], env)
    finally:
        server.terminate()
        server.wait(10)
    return {
        "rows": rows - 1,
        "all_seconds": all_s,
        "rows_per_s": (rows - 1) / all_s,
        "all_rss_mb": all_rss / 1024,
        "page_seconds": page_s,
        "page_rss_mb": page_rss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="start-up runs")
    parser.add_argument("--count", type=int, default=25_000, help="resources for --all (0: skip)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="skyatlas-bench-cli-") as tmp:
        home = Path(tmp)
        s = startup(args.runs, home)
        verdict = "PASS" if s["first_request_p50"] <= 0.3 else "FAIL"
        print(
            f"start-up to first request: p50 {s['first_request_p50'] * 1000:.0f} ms, "
            f"max {s['first_request_max'] * 1000:.0f} ms  (target ≤ 300 ms: {verdict})"
        )
        print(f"  python -c pass: {s['python_floor'] * 1000:.0f} ms (floor)")
        print(f"  skyatlas --version (Typer path): {s['version_wall'] * 1000:.0f} ms")
        if args.count:
            a = all_pages(args.count, home)
            print(
                f"--all -o csv: {a['rows']:,} rows in {a['all_seconds']:.1f} s "
                f"({a['rows_per_s']:,.0f} rows/s), peak RSS {a['all_rss_mb']:.0f} MB; "
                f"one page of 1,000: {a['page_seconds']:.2f} s, peak RSS {a['page_rss_mb']:.0f} MB"
            )
    print(f"(self: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB)")


if __name__ == "__main__":
    main()
