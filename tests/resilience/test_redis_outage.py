"""Redis killed under a real ``headwater serve``: reads keep answering, limits follow policy."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from headwater.testing._redis import RedisServer
from headwater.testing._server import serve

APPS = [f"tests.ratelimit.serverapp:{name}" for name in ("cache", "ratelimit", "routes")]
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_redis_stopped_mid_test_the_server_keeps_answering(
    tmp_path: Path, private_redis: RedisServer
) -> None:
    env = {
        "HEADWATER_REDIS_URL": private_redis.url,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    database = f"sqlite:///{tmp_path / 'node.db'}"
    with (
        serve(database, workdir=tmp_path, apps=APPS, env=env) as server,
        httpx.Client(base_url=server.url, timeout=5) as http,
    ):
        first = http.get("/read").json()
        assert first["value"]["guests"] == 3
        assert http.get("/closed").status_code == 200
        assert http.get("/open").status_code == 200

        private_redis.stop()
        started = time.perf_counter()
        reads = [http.get("/read") for _ in range(30)]
        assert {r.status_code for r in reads} == {200}
        assert all(r.json()["value"]["guests"] == 3 for r in reads)
        # L1 copies live 0.2 s here, so during the outage the read model is asked.
        time.sleep(0.25)
        assert http.get("/read").json()["computed"] > first["computed"]
        assert http.get("/open").status_code == 200  # fails open
        closed = http.get("/closed")  # fails closed
        assert closed.status_code == 503
        assert closed.json()["error"]["code"] == "unavailable"
        assert time.perf_counter() - started < 5, "requests waited on the dead Redis"

        private_redis.start()
        deadline = time.monotonic() + 5
        while http.get("/closed").status_code != 200:
            assert time.monotonic() < deadline, "the limiter did not recover"
            time.sleep(0.1)
        assert http.get("/read").status_code == 200
