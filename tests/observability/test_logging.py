"""JSON log lines carry request id, trace id, tenant and actor; ``traceparent`` continues."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headwater.observability import TraceContext, configure_logging, get_logger, reset_logging
from tests.observability.support import make_app, quiet_module

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream, stdlib=False)
    try:
        yield stream
    finally:
        reset_logging()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_logs_are_json_lines_with_request_trace_tenant_and_actor(
    tmp_path: Path, log_stream: io.StringIO
) -> None:
    with TestClient(make_app(tmp_path, quiet_module())) as client:
        response = client.get(
            "/items/42",
            headers={
                "authorization": "Bearer alice",
                "x-request-id": "req-1",
                "traceparent": PARENT,
            },
        )
    assert response.status_code == 200
    records = lines(log_stream)
    handler = next(r for r in records if r["event"] == "item.read")
    access = next(r for r in records if r["event"] == "http.request")
    for record in (handler, access):
        assert record["request_id"] == "req-1"
        assert record["trace_id"] == TRACE_ID
        assert record["tenant"] == "tenant-a"
        assert record["actor"] == "alice"
        assert record["level"] == "info"
        assert "timestamp" in record
    assert handler["item_id"] == "42"
    assert access["route"] == "/items/{item_id}"
    assert access["status"] == 200


def test_incoming_traceparent_is_continued_in_the_response(
    tmp_path: Path, log_stream: io.StringIO
) -> None:
    with TestClient(make_app(tmp_path, quiet_module())) as client:
        response = client.get("/items/1", headers={"traceparent": PARENT})
        fresh = client.get("/items/2")
    echoed = TraceContext.parse(response.headers["traceparent"])
    assert echoed is not None
    assert echoed.trace_id == TRACE_ID
    # Our server span is a child of the caller's, so it has its own span id.
    assert echoed.span_id != "00f067aa0ba902b7"
    started = TraceContext.parse(fresh.headers["traceparent"])
    assert started is not None
    assert started.trace_id != TRACE_ID
    access = [r for r in lines(log_stream) if r["event"] == "http.request"]
    assert [r["trace_id"] for r in access] == [TRACE_ID, started.trace_id]


def test_anonymous_requests_log_no_tenant_or_actor(tmp_path: Path, log_stream: io.StringIO) -> None:
    with TestClient(make_app(tmp_path, quiet_module())) as client:
        client.get("/items/1")
    access = next(r for r in lines(log_stream) if r["event"] == "http.request")
    assert "tenant" not in access
    assert "actor" not in access
    assert access["tier"] == "anonymous"


def test_errors_log_at_error_level_with_the_trace(tmp_path: Path, log_stream: io.StringIO) -> None:
    app = make_app(tmp_path, quiet_module())
    with TestClient(app, raise_server_exceptions=False) as client:
        client.get("/fail", headers={"traceparent": PARENT})
    access = next(r for r in lines(log_stream) if r["event"] == "http.request")
    assert access["level"] == "error"
    assert access["status"] == 500
    assert access["trace_id"] == TRACE_ID


def test_logs_outside_a_request_have_no_request_context(log_stream: io.StringIO) -> None:
    get_logger("headwater.tests").warning("background.tick", n=1)
    (record,) = lines(log_stream)
    assert record == {
        "event": "background.tick",
        "n": 1,
        "level": "warning",
        "logger": "headwater.tests",
        "timestamp": record["timestamp"],
    }


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    ],
)
def test_invalid_traceparent_headers_are_ignored(header: str | None) -> None:
    assert TraceContext.parse(header) is None


def test_traceparent_round_trips() -> None:
    parsed = TraceContext.parse(PARENT)
    assert parsed is not None
    assert parsed.header() == PARENT
    assert TraceContext.parse(PARENT.replace("-01", "-00")) == TraceContext(
        TRACE_ID, "00f067aa0ba902b7", sampled=False
    )


# --- error lines keep their stack ----------------------------------------------------


def _traceback_of(stream: io.StringIO, event: str) -> str:
    (line,) = [line for line in lines(stream) if line["event"] == event]
    assert line["level"] == "error"
    text: str = line["exception"]
    assert text.startswith("Traceback (most recent call last):")
    return text


def test_exception_on_the_structured_logger_keeps_the_stack(log_stream: io.StringIO) -> None:
    def fails_deep_inside() -> None:
        raise ZeroDivisionError("the cause")

    try:
        fails_deep_inside()
    except ZeroDivisionError:
        get_logger("headwater.tests").exception("work.failed", item=3)
    text = _traceback_of(log_stream, "work.failed")
    assert "fails_deep_inside" in text
    assert text.endswith("ZeroDivisionError: the cause")


@pytest.mark.anyio
async def test_a_failing_alert_sink_is_logged_with_its_stack(log_stream: io.StringIO) -> None:
    from headwater.observability import AlertEvaluator, AlertRule

    class Broken:
        async def emit(self, alert: object) -> None:
            raise ConnectionError("receiver down")

    rule = AlertRule("slow", "p95", 0.5, resolve_below=0.3, for_samples=1)
    await AlertEvaluator([rule], [Broken()]).evaluate({"p95": 1.0})
    text = _traceback_of(log_stream, "alert.sink_failed")
    assert "ConnectionError: receiver down" in text
    assert "in emit" in text


def test_a_failing_alert_evaluation_is_logged_with_its_stack(
    tmp_path: Path, log_stream: io.StringIO
) -> None:
    import time

    module = quiet_module(alert_interval=0.02)

    async def broken_sample() -> dict[str, float]:
        raise ValueError("sampler broke")

    module.sampler.sample = broken_sample  # type: ignore[method-assign]
    with TestClient(make_app(tmp_path, module)):
        deadline = time.monotonic() + 5
        while "alerts.evaluation_failed" not in log_stream.getvalue():
            assert time.monotonic() < deadline, "the loop never logged its failure"
            time.sleep(0.02)
    failures = [line for line in lines(log_stream) if line["event"] == "alerts.evaluation_failed"]
    assert "ValueError: sampler broke" in failures[0]["exception"]
    assert "broken_sample" in failures[0]["exception"]


def test_a_failing_plugin_handler_is_logged_with_its_stack(
    tmp_path: Path, log_stream: io.StringIO
) -> None:
    import time
    from collections.abc import Mapping, Sequence

    from headwater.app import create_app
    from headwater.eventstore import NewEvent, RecordedEvent
    from headwater.plugins import EventHandler, InstalledPlugins, Plugin
    from headwater.runtime import Runtime
    from tests.http.support import make_settings

    class Faulty(Plugin):
        name = "faulty"
        version = "1.0.0"

        def event_handlers(self) -> Mapping[str, Sequence[EventHandler]]:
            async def on_arrival(event: RecordedEvent, runtime: Runtime) -> None:
                raise KeyError("missing field")

            return {"guest.arrived": [on_arrival]}

    # The quiet observability module leaves the test's log configuration in place.
    plugins = [quiet_module(), InstalledPlugins([Faulty()])]
    app = create_app(make_settings(tmp_path), plugins=plugins)
    with TestClient(app) as client:
        store = app.state.runtime.store
        assert client.portal is not None
        client.portal.call(store.append, "guest-1", NewEvent("guest.arrived", {}))
        deadline = time.monotonic() + 5
        while "plugin.handler_failed" not in log_stream.getvalue():
            assert time.monotonic() < deadline, "the handler's failure was never logged"
            time.sleep(0.02)
    text = _traceback_of(log_stream, "plugin.handler_failed")
    assert "in on_arrival" in text
    assert "KeyError: 'missing field'" in text
