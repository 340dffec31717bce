"""Run real ``headwater serve`` processes in tests: loopback, a free port, no mocks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class RunningServer:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")


@contextmanager
def serve(
    database_url: str,
    *,
    workdir: Path,
    apps: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 30.0,
    port: int | None = None,
) -> Iterator[RunningServer]:
    """Start ``headwater serve`` and wait until ``/readyz`` answers; stop it afterwards.

    ``port`` defaults to a free one; a demo passes a fixed one.
    """
    port = port or free_port()
    log = workdir / f"server-{port}.log"
    environment = {
        **os.environ,
        "HEADWATER_DATABASE_URL": database_url,
        "HEADWATER_DATA_DIR": str(workdir),
        "HEADWATER_SECRET_KEY": os.environ.get("HEADWATER_SECRET_KEY", "test-secret-key"),
        "HEADWATER_HSTS": "false",
        **(env or {}),
    }
    command = [sys.executable, "-m", "headwater.cli._main", "serve", "--port", str(port)]
    for app in apps or []:
        command += ["--app", app]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=environment, stdout=sink, stderr=subprocess.STDOUT)
    server = RunningServer(port, process, log)
    try:
        _wait_ready(server, startup_timeout)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(server: RunningServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            code = server.process.returncode
            raise RuntimeError(f"server exited with {code}:\n{server.output()}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server did not become ready in {timeout}s:\n{server.output()}")
