"""Running `skyatlas serve` as a user does: a real process on a free port, its data dir under
a test's tmp_path, spoken to over HTTP. Shared by the process-level test modules."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

START_TIMEOUT = 45.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command(*args: str) -> list[str]:
    exe = Path(sys.executable).with_name("skyatlas")
    if exe.exists():
        return [str(exe), "serve", *args]
    return [sys.executable, "-m", "skyatlas", "serve", *args]


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without SKYATLAS_* settings or a terminal width, no proxies."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SKYATLAS_") and k not in ("COLUMNS", "LINES")
    }
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # never route 127.0.0.1 through a proxy from the environment
    return session


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def bootstrap_path(self) -> Path:
        return self.data_dir / "bootstrap.json"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def post(self, path: str, token: str | None, body: Any = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with http() as s:
            return s.post(self.url + path, json=body or {}, headers=headers, timeout=30)

    def ok(self, path: str, token: str, body: Any = None) -> Any:
        response = self.post(path, token, body)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        with http() as s:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    pytest.fail(
                        f"skyatlas serve exited with {self.proc.returncode} before answering "
                        f"/check:\n{self.output()}"
                    )
                try:
                    r = s.get(self.url + "/check", timeout=2)
                    if r.status_code == 200 and r.json() == {"status": "SERVING"}:
                        return
                except requests.RequestException:
                    pass
                time.sleep(0.1)
        pytest.fail(f"skyatlas serve did not answer /check within {timeout}s:\n{self.output()}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = STOP_TIMEOUT) -> int | None:
        """Send `sig` and wait; the exit code, or None if it did not stop in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def start(
    tmp_path: Path,
    *args: str,
    data_dir: Path | None = None,
    env: dict[str, str] | None = None,
    name: str = "server",
) -> Server:
    data_dir = data_dir if data_dir is not None else tmp_path / "data"
    port = free_port()
    log = tmp_path / f"{name}-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            serve_command("--data-dir", str(data_dir), "--port", str(port), *args),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env if env is not None else clean_env(),
            cwd=tmp_path,
        )
    return Server(proc=proc, port=port, data_dir=data_dir, log=log)


@contextmanager
def running(tmp_path: Path, *args: str, **kwargs: Any) -> Iterator[Server]:
    server = start(tmp_path, *args, **kwargs)
    try:
        server.wait_ready()
        yield server
    finally:
        server.kill()
