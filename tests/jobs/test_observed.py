"""Jobs under observability: runs continue the trace that enqueued them, and /metrics shows
their outcomes, durations, attempts and what waits in each queue."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter

from headwater.app import create_app
from headwater.domain import Event, EventRegistry
from headwater.errors import PermanentJobError
from headwater.identity._trace import TraceContext, current_trace
from headwater.jobs import Job, JobsModule, WorkerOptions
from headwater.modules import Module
from headwater.observability import ObservabilityModule
from headwater.runtime import Runtime
from headwater.testing._jobs import eventually
from tests.http.support import make_settings

pytestmark = pytest.mark.anyio

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


class ReportMade(Event, type="tests.ReportMade"):
    pass


REGISTRY = EventRegistry()
REGISTRY.register(ReportMade)


class Enqueuer(Module):
    """A route that enqueues a job while handling its request."""

    name = "enqueuer"

    def __init__(self) -> None:
        self.runtime: Runtime | None = None

    def routers(self) -> list[APIRouter]:
        router = APIRouter()

        @router.post("/work/{name}")
        async def work(name: str) -> dict[str, str]:
            assert self.runtime is not None
            return {"job_id": await self.runtime.require_jobs().enqueue(name, {}, attempts=2)}

        return [router]

    async def start(self, runtime: Runtime) -> None:
        self.runtime = runtime


def _value(text: str, name: str, **labels: str) -> float:
    """One sample of the Prometheus text, by metric name and labels (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_job_continues_the_request_trace_and_its_metrics_are_exported(
    tmp_path: Path, store_url: str
) -> None:
    jobs = JobsModule(options=WorkerOptions(lease=2.0, poll_interval=0.1))
    seen: dict[str, TraceContext | None] = {}

    @jobs.handler("report")
    async def report(job: Job) -> None:
        seen["report"] = current_trace()
        # Encoded by the domain, as commands and repositories do: stamped with the trace.
        await runtime.store.append(f"report-{job.id}", REGISTRY.encode(ReportMade()))
        await runtime.require_jobs().enqueue("notify", {})  # a job of a job: same trace

    @jobs.handler("notify")
    async def notify(job: Job) -> None:
        seen["notify"] = current_trace()

    @jobs.handler("flaky")
    async def flaky(job: Job) -> None:
        raise RuntimeError("always")

    @jobs.handler("refused")
    async def refused(job: Job) -> None:
        raise PermanentJobError("never")

    observability = ObservabilityModule(log_level=None, alert_interval=None)
    settings = make_settings(tmp_path, database_url=store_url, auto_migrate=True)
    enqueuer = Enqueuer()
    app = create_app(settings, plugins=[observability], apps=[jobs, enqueuer])
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            sent = await client.post("/work/report", headers={"traceparent": CALLER})
            assert sent.status_code == 200, sent.text
            job_id = sent.json()["job_id"]
            for name in ("flaky", "refused"):
                assert (await client.post(f"/work/{name}")).status_code == 200
            # No handler takes "backlog": it waits, and its queue ages.
            await runtime.require_jobs().enqueue("backlog", {})
            await runtime.require_jobs().enqueue("backlog", {})

            async def settled() -> bool:
                depth = await runtime.require_jobs().depth()
                return "notify" in seen and depth["dead"] == 2

            await eventually(settled, "the traced jobs ran and the failing ones died")
            await asyncio.sleep(0.05)
            text = (await client.get("/metrics")).text

        job = await runtime.require_jobs().get(job_id)
        assert job is not None
        stored = TraceContext.parse(job.traceparent)
        assert stored is not None
        assert stored.trace_id == TRACE_ID
        report_trace, notify_trace = seen["report"], seen["notify"]
        assert report_trace is not None
        assert notify_trace is not None
        assert report_trace.trace_id == notify_trace.trace_id == TRACE_ID
        assert report_trace.span_id != stored.span_id  # the run is a span of its own
        events = [e async for e in runtime.store.read_stream(f"report-{job_id}")]
        assert events[0].metadata["trace_id"] == TRACE_ID

    assert _value(text, "headwater_job_outcomes_total", queue="report", outcome="succeeded") == 1
    assert _value(text, "headwater_job_outcomes_total", queue="notify", outcome="succeeded") == 1
    # Two attempts: the first failed (and was retried), the second had no attempt left.
    assert _value(text, "headwater_job_outcomes_total", queue="flaky", outcome="failed") == 1
    assert _value(text, "headwater_job_outcomes_total", queue="flaky", outcome="dead") == 1
    assert _value(text, "headwater_job_outcomes_total", queue="refused", outcome="dead") == 1
    assert _value(text, "headwater_job_attempts_sum", queue="flaky", outcome="dead") == 2
    assert _value(text, "headwater_job_duration_seconds_count", queue="report") == 1
    assert _value(text, "headwater_job_duration_seconds_sum", queue="report") > 0
    assert _value(text, "headwater_job_queue_depth", queue="backlog") == 2
    assert _value(text, "headwater_job_queue_age_seconds", queue="backlog") > 0
    assert _value(text, "headwater_job_queue_depth", queue="report") == 0


async def test_with_opentelemetry_a_run_is_a_span_of_the_enqueuing_trace(store_url: str) -> None:
    sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
    export = pytest.importorskip("opentelemetry.sdk.trace.export")
    in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
    from headwater.eventstore import create_event_store
    from headwater.identity._trace import use_trace
    from headwater.jobs import JobRegistry, SqlJobQueue, Worker
    from headwater.observability import Tracer

    exporter = in_memory.InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    store = await create_event_store(store_url, migrate=True)
    try:
        queue = SqlJobQueue(store)
        await queue.migrate()
        registry = JobRegistry()
        done = asyncio.Event()

        @registry.handler("traced")
        async def traced(job: Job) -> None:
            done.set()

        caller = TraceContext.parse(CALLER)
        with use_trace(caller):
            await queue.enqueue("traced", {})
        options = WorkerOptions(lease=2.0, poll_interval=0.1)
        async with Worker(queue, registry, options, tracer=Tracer(provider=provider)):
            await asyncio.wait_for(done.wait(), 10)
    finally:
        await store.close()
    (span,) = exporter.get_finished_spans()
    assert span.name == "job traced"
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert span.attributes["job.name"] == "traced"
