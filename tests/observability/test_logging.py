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
