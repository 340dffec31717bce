"""``/metrics``: HTTP latency by route template, event-store, cache, limits and circuits."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from headwater.eventstore._records import NewEvent
from headwater.resilience._breaker import BreakerConfig, CircuitBreaker
from tests.observability.support import make_app, portal, quiet_module


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(text: str, metric: str, **labels: str) -> float | None:
    return samples(text).get((metric, tuple(sorted(labels.items()))))


def test_latency_is_labelled_by_route_template_method_status_and_tier(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path, quiet_module()), raise_server_exceptions=False) as client:
        for n in range(3):
            assert client.get(f"/items/{n}").status_code == 200
        client.get("/items/x", headers={"authorization": "Bearer alice"})
        client.get("/fail")
        client.get("/no/such/route")
        text = client.get("/metrics").text
    count = "headwater_http_request_duration_seconds_count"
    route = {"route": "/items/{item_id}", "method": "GET"}
    assert value(text, count, **route, status="200", tier="anonymous") == 3
    assert value(text, count, **route, status="200", tier="premium") == 1
    assert value(text, count, route="/fail", method="GET", status="500", tier="anonymous") == 1
    assert value(text, count, route="<unmatched>", method="GET", status="404", tier="anonymous")
    bucket = "headwater_http_request_duration_seconds_bucket"
    assert value(text, bucket, **route, status="200", tier="anonymous", le="+Inf") == 3
    # Raw paths never become label values.
    assert "/items/0" not in text


def test_streams_are_counted_apart_from_request_latency(tmp_path: Path) -> None:
    module = quiet_module()
    with TestClient(make_app(tmp_path, module), raise_server_exceptions=False) as client:
        assert client.get("/events").text == "data: 1\n\n"
        assert client.get("/export").text == "0\n1\n2\n"
        assert client.get("/items/1").status_code == 200
        text = client.get("/metrics").text
    latency = "headwater_http_request_duration_seconds_count"
    for route in ("/events", "/export"):
        assert (
            value(text, latency, route=route, method="GET", status="200", tier="anonymous") is None
        )
        streams = "headwater_http_streams_total"
        assert value(text, streams, route=route, method="GET", status="200") == 1
        assert value(text, "headwater_http_stream_duration_seconds_count", route=route) == 1
        assert value(text, "headwater_http_stream_first_byte_seconds_count", route=route) == 1
    open_for = value(text, "headwater_http_stream_duration_seconds_sum", route="/export")
    assert open_for is not None
    assert open_for >= 0.1
    # The recent window (alerts, the dashboard's latency card) saw the one plain request.
    durations, _ = module.metrics.recent.drain()
    assert len(durations) == 1


def test_event_store_cache_and_circuit_figures_are_read_at_scrape_time(tmp_path: Path) -> None:
    breaker = CircuitBreaker("redis:test", BreakerConfig(failure_threshold=1))

    async def fail_once() -> None:
        async def down() -> None:
            raise ConnectionError("down")

        with pytest.raises(ConnectionError):
            await breaker.call(down)

    app = make_app(tmp_path, quiet_module())
    with TestClient(app) as client:
        runtime = app.state.runtime
        runtime.breakers.append(breaker)
        portal(client).call(fail_once)  # one failure opens it: the metric must say OPEN
        portal(client).call(runtime.store.append, "s-1", [NewEvent("x", {}), NewEvent("y", {})])
        cache = runtime.require_cache()
        cache.stats.l1_hits += 5
        cache.stats.misses += 2
        text = client.get("/metrics").text
    assert value(text, "headwater_eventstore_head_position") == 2
    assert value(text, "headwater_cache_operations_total", outcome="hits") == 5
    assert value(text, "headwater_cache_operations_total", outcome="misses") == 2
    assert value(text, "headwater_circuit_state", name="redis:test", state="open") == 1
    assert value(text, "headwater_circuit_state", name="redis:test", state="closed") == 0


def test_rate_limit_decisions_are_exposed(tmp_path: Path) -> None:
    app = make_app(tmp_path, quiet_module(), rate_limits=True)
    with TestClient(app) as client:
        client.get("/items/1")
        text = client.get("/metrics").text
    assert (value(text, "headwater_ratelimit_decisions_total", decision="allowed") or 0) >= 1


def test_each_app_has_its_own_registry(tmp_path: Path) -> None:
    first, second = quiet_module(), quiet_module()
    assert first.metrics.registry is not second.metrics.registry
    with (
        TestClient(make_app(tmp_path / "a", first)) as a,
        TestClient(make_app(tmp_path / "b", second)) as b,
    ):
        a.get("/items/1")
        a.get("/items/2")
        b.get("/items/1")
        name = "headwater_http_request_duration_seconds_count"
        labels = {"route": "/items/{item_id}", "method": "GET", "status": "200"}
        assert value(a.get("/metrics").text, name, **labels, tier="anonymous") == 2
        assert value(b.get("/metrics").text, name, **labels, tier="anonymous") == 1


def test_metrics_token_is_required_when_set(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path, quiet_module(metrics_token="s3cret"))) as client:
        assert client.get("/metrics").status_code == 401
        ok = client.get("/metrics", headers={"authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert "headwater_http_request_duration_seconds" in ok.text
