"""With the OpenTelemetry extra, requests become server spans that continue the caller's trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from headwater.observability import TraceContext, Tracer, current_trace, inject
from tests.observability.support import make_app, quiet_module

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
export = pytest.importorskip("opentelemetry.sdk.trace.export")
in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def test_requests_are_exported_as_spans_continuing_the_trace(tmp_path: Path) -> None:
    exporter = in_memory.InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    module = quiet_module(otel_provider=provider)
    with TestClient(make_app(tmp_path, module)) as client:
        response = client.get("/items/7", headers={"traceparent": PARENT})
    (span,) = exporter.get_finished_spans()
    context = span.get_span_context()
    assert f"{context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert span.attributes["http.route"] == "/items/{item_id}"
    assert span.attributes["http.response.status_code"] == 200
    echoed = TraceContext.parse(response.headers["traceparent"])
    assert echoed == TraceContext(TRACE_ID, f"{context.span_id:016x}")


def test_without_opentelemetry_spans_still_propagate() -> None:
    tracer = Tracer()
    parent = TraceContext.parse(PARENT)
    with tracer.server_span("work", parent) as span:
        assert current_trace() == span.context
        assert inject({})["traceparent"] == span.context.header()
    assert span.context.trace_id == TRACE_ID
    assert current_trace() is None
    assert inject({}) == {}
