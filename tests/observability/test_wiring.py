"""Observability as the outermost module (where ``create_app`` should put it).

Outside authentication and the rate limiter, the middleware still reports the
principal's tenant, actor and tier (read after the inner layers ran), and it sees
the requests they refuse: a 429 is counted under its route template.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from fastapi.testclient import TestClient

from headwater.app import core_modules, create_app
from headwater.observability import configure_logging, reset_logging
from headwater.ratelimit._config import RateLimitConfig, TierLimit
from headwater.ratelimit._module import RateLimitModule
from tests.http.support import make_settings
from tests.observability.support import RoutesModule, quiet_module


def test_outermost_module_sees_principals_and_refusals(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rate_limits=True)
    observability = quiet_module()
    tight = RateLimitConfig(tiers={"anonymous": TierLimit(2, 5), "premium": TierLimit(2, 5)})
    core = [
        observability,
        *(m for m in core_modules(settings) if m.name not in {"ratelimit", "observability"}),
        RateLimitModule(tight),
    ]
    stream = io.StringIO()
    configure_logging(stream=stream, stdlib=False)
    try:
        with TestClient(create_app(settings, apps=[RoutesModule()], core=core)) as client:
            statuses = [client.get(f"/items/{n}").status_code for n in range(3)]
            authed = client.get("/items/9", headers={"authorization": "Bearer alice"})
            metrics = client.get("/metrics").text
    finally:
        reset_logging()
    assert statuses == [200, 200, 429]
    assert "traceparent" in authed.headers
    assert (
        'headwater_http_request_duration_seconds_count{method="GET",route="/items/{item_id}",'
        'status="429",tier="anonymous"} 1.0'
    ) in metrics
    access = [json.loads(line) for line in stream.getvalue().splitlines()]
    alice = next(r for r in access if r["event"] == "http.request" and r.get("actor") == "alice")
    assert alice["tenant"] == "tenant-a"
    assert alice["tier"] == "premium"
    handler = [r for r in access if r["event"] == "item.read" and r.get("item_id") == "9"]
    assert handler[0]["actor"] == "alice"
