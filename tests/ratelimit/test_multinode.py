"""Two real ``headwater serve`` processes sharing one Redis never allow more than a limit."""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from headwater.testing._server import serve
from tests.ratelimit.serverapp import SHARED_LIMIT

APPS = [f"tests.ratelimit.serverapp:{name}" for name in ("cache", "ratelimit", "routes")]
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_two_server_processes_sharing_redis_allow_no_more_than_the_limit(
    tmp_path: Path, redis_url: str, redis_namespace: str
) -> None:
    env = {
        "HEADWATER_REDIS_URL": redis_url,
        "TEST_NAMESPACE": redis_namespace,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                serve(f"sqlite:///{tmp_path / f'node{i}.db'}", workdir=tmp_path, apps=APPS, env=env)
            )
            for i in range(2)
        ]

        # One request on each node first: both count against the same window.
        opening = [httpx.get(f"{s.url}/limited").status_code for s in servers]
        assert opening == [200, 200]

        def hammer(url: str) -> list[int]:
            with httpx.Client(base_url=url, timeout=10) as client:
                return [client.get("/limited").status_code for _ in range(40)]

        with ThreadPoolExecutor(8) as pool:
            # Four clients per node, all at once.
            runs = list(pool.map(hammer, [s.url for s in servers for _ in range(4)]))
        statuses = Counter(code for run in [opening, *runs] for code in run)
        assert statuses == {200: SHARED_LIMIT, 429: 2 + 8 * 40 - SHARED_LIMIT}
        refused = httpx.get(f"{servers[0].url}/limited")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert refused.headers["ratelimit-limit"] == str(SHARED_LIMIT)
        assert refused.headers["ratelimit-remaining"] == "0"
        assert refused.json()["error"]["code"] == "rate_limited"
        assert refused.json()["success"] is False
