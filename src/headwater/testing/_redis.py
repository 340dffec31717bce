"""Real Redis for tests: the shared server, and private ``redis-server`` processes to kill.

No fakeredis: a fake cannot show what a dropped connection, a refused connect or a
restarted server does to the cache and the rate limiter. The shared server
(``HEADWATER_TEST_REDIS_URL``, default ``redis://127.0.0.1:6379/0``) is required by
default, as PostgreSQL is: unreachable fails the test unless
``HEADWATER_REQUIRE_SERVICES=0``, which skips instead. Tests isolate themselves on
it by a fresh key namespace, never by flushing it (other suites share it).

A test that stops Redis starts its own on a free port::

    def test_outage(private_redis: RedisServer) -> None:
        ...  # use private_redis.url
        private_redis.stop()     # SIGKILL: no goodbye to the clients
        private_redis.start()    # same port, empty (no persistence)

Conftests reuse the fixtures by importing them:
``from headwater.testing._redis import private_redis, redis_namespace, redis_url``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from headwater.testing._server import free_port

REDIS_URL = os.environ.get("HEADWATER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("HEADWATER_REQUIRE_SERVICES", "1") != "0"


def _unavailable(what: str, error: object) -> None:
    message = f"{what} is not available ({error}); it is required for this test"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (HEADWATER_REQUIRE_SERVICES=0 skips instead)")
    pytest.skip(message)


def ping(url: str, timeout: float = 1.0) -> Exception | None:
    """None when Redis at ``url`` answers PING, else the error."""
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
        return None
    except (redis.RedisError, OSError) as exc:
        return exc
    finally:
        client.close()


@dataclass
class RedisServer:
    """A ``redis-server`` child process on its own port, with no persistence."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is not on PATH")
        log = (self.workdir / f"redis-{self.port}.log").open("ab")
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while (error := ping(self.url, 0.2)) is not None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on {self.port} did not start: {error}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill the server (SIGKILL: connections drop as in a crash or a cut cable)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture(scope="session")
def redis_service() -> str:
    """The shared server's URL, checked once; fails (or skips, if allowed) when down."""
    error = ping(REDIS_URL)
    if error is not None:
        _unavailable(f"Redis at {REDIS_URL}", error)
    return REDIS_URL


@pytest.fixture
def redis_url(redis_service: str) -> str:
    return redis_service


@pytest.fixture
def redis_namespace(redis_service: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    namespace = f"hwtest:{uuid.uuid4().hex[:12]}"
    yield namespace
    client = redis.Redis.from_url(redis_service)
    try:
        keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of this test's own, to stop and start; killed afterwards."""
    if shutil.which("redis-server") is None:
        _unavailable("redis-server", "not on PATH")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
