"""A real ``headwater serve`` with the module: JSON lines on stdout, ``/metrics``, traceparent."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from headwater.testing._server import serve

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


@pytest.mark.slow
def test_a_served_app_logs_json_and_exposes_metrics(tmp_path: Path) -> None:
    env = {"HEADWATER_RATE_LIMITS": "false"}
    with serve(
        f"sqlite:///{tmp_path / 'serve.db'}",
        workdir=tmp_path,
        apps=["headwater.observability:ObservabilityModule"],
        env=env,
    ) as server:
        headers = {"traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-01", "x-request-id": "r-42"}
        response = httpx.get(f"{server.url}/no-such-page", headers=headers, timeout=5)
        metrics = httpx.get(f"{server.url}/metrics", timeout=5).text
        deadline = time.monotonic() + 5
        while "http.request" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        output = server.output()
    assert response.status_code == 404
    assert response.headers["traceparent"].startswith(f"00-{TRACE_ID}-")
    assert 'route="<unmatched>"' in metrics
    assert "headwater_eventstore_head_position" in metrics
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = next(r for r in records if r.get("event") == "http.request")
    assert access["request_id"] == "r-42"
    assert access["trace_id"] == TRACE_ID
    assert access["status"] == 404
