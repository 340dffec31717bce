"""``timed()``: a histogram in the app's /metrics and a span under the current one, as a
block or a decorator, sync or async; a failure is recorded as such."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest

from headwater.observability import TraceContext, Tracer, current_trace, timed
from headwater.observability._timing import Timings
from tests.observability.support import make_app, quiet_module

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = TraceContext(TRACE_ID, "00f067aa0ba902b7")


def _sample(timings: Timings, name: str, **labels: str) -> float:
    value = timings.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


@pytest.fixture
def timings() -> Iterator[Timings]:
    own = Timings(CollectorRegistry())
    own.activate()
    try:
        yield own
    finally:
        own.deactivate()


def test_a_block_records_a_histogram_and_a_span_under_the_current_one(timings: Timings) -> None:
    with Tracer().server_span("request", PARENT):
        outer = current_trace()
        with timed("pricing.quote", plan="pro"):
            inner = current_trace()
    assert outer is not None
    assert inner is not None
    assert inner.trace_id == TRACE_ID
    assert inner.span_id != outer.span_id
    labels = {"plan": "pro", "outcome": "ok"}
    assert _sample(timings, "headwater_timed_pricing_quote_seconds_count", **labels) == 1
    assert _sample(timings, "headwater_timed_pricing_quote_seconds_sum", **labels) > 0


def test_decorated_functions_sync_and_async_are_timed_each_call(timings: Timings) -> None:
    @timed("reports.render", kind="pdf")
    def render(pages: int) -> int:
        return pages * 2

    @timed("reports.fetch")
    async def fetch() -> str:
        await asyncio.sleep(0.01)
        return "done"

    assert render(2) == 4
    assert render(3) == 6
    assert asyncio.run(fetch()) == "done"
    assert render.__name__ == "render"
    pdf = {"kind": "pdf", "outcome": "ok"}
    assert _sample(timings, "headwater_timed_reports_render_seconds_count", **pdf) == 2
    fetched = _sample(timings, "headwater_timed_reports_fetch_seconds_sum", outcome="ok")
    assert fetched >= 0.01


def test_async_with_and_a_failure_recorded_as_error(timings: Timings) -> None:
    async def work() -> None:
        async with timed("import.rows"):
            await asyncio.sleep(0)
        with pytest.raises(ValueError, match="bad row"):
            async with timed("import.rows"):
                raise ValueError("bad row")

    asyncio.run(work())
    count = "headwater_timed_import_rows_seconds_count"
    assert _sample(timings, count, outcome="ok") == 1
    assert _sample(timings, count, outcome="error") == 1


def test_labels_are_fixed_by_the_first_use_and_names_are_checked(timings: Timings) -> None:
    with timed("checkout", plan="pro"):
        pass
    with pytest.raises(ValueError, match="first used with labels"), timed("checkout", region="eu"):
        pass
    with pytest.raises(ValueError, match="name"):
        timed("no spaces please")
    with pytest.raises(ValueError, match="label"):
        timed("checkout", outcome="mine")


def test_inside_an_app_timed_shows_in_its_metrics(tmp_path: Path) -> None:
    module = quiet_module()
    with TestClient(make_app(tmp_path, module)) as client:
        with timed("app.work", step="one"):
            pass
        text = client.get("/metrics").text
    assert 'headwater_timed_app_work_seconds_count{outcome="ok",step="one"} 1.0' in text
    # Stopped: timed() no longer records into the stopped app's registry.
    with timed("app.work", step="one"):
        pass
    after = generate_latest(module.metrics.registry).decode()
    assert 'headwater_timed_app_work_seconds_count{outcome="ok",step="one"} 1.0' in after


def test_with_opentelemetry_timed_exports_a_child_span() -> None:
    sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
    export = pytest.importorskip("opentelemetry.sdk.trace.export")
    in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
    exporter = in_memory.InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    tracer = Tracer(provider=provider)
    own = Timings(CollectorRegistry(), tracer)
    own.activate()
    try:
        with tracer.server_span("request", PARENT), timed("otel.block", part="a"):
            pass
    finally:
        own.deactivate()
    block, request = exporter.get_finished_spans()
    assert block.name == "otel.block"
    assert block.attributes["timed.part"] == "a"
    assert f"{block.context.trace_id:032x}" == TRACE_ID
    assert block.parent is not None
    assert block.parent.span_id == request.context.span_id


def test_one_timer_shared_by_concurrent_tasks_times_each_task(timings: Timings) -> None:
    shared = timed("shared.step")

    async def step(pause: float) -> None:
        async with shared:
            await asyncio.sleep(pause)

    async def both() -> None:
        await asyncio.gather(step(0.01), step(0.05))  # the first in ends first

    asyncio.run(both())
    assert _sample(timings, "headwater_timed_shared_step_seconds_count", outcome="ok") == 2
    total = _sample(timings, "headwater_timed_shared_step_seconds_sum", outcome="ok")
    assert 0.06 <= total < 1.0
