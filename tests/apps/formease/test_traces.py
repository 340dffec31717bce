"""A trace started by a request is found on its event, the job it caused, the webhook that
job sent and the live frame admins saw: one trace id across all of them, on both backends."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import orjson

from apps.formease.domain.sessions import SubmissionReceived
from headwater.eventstore import create_event_store
from headwater.jobs import SqlJobQueue
from headwater.observability import TraceContext
from tests.apps.formease.conftest import World
from tests.apps.formease.support import data, new_user, open_form, published_form
from tests.apps.formease.test_realtime import _admin_feed
from tests.apps.formease.test_webhooks import SECRET, Receiver, receiver  # noqa: F401

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER = f"00-{TRACE_ID}-b7ad6b7169203331-01"


def _trace_id(header: object) -> str | None:
    ctx = TraceContext.parse(header if isinstance(header, str) else None)
    return None if ctx is None else ctx.trace_id


async def _event_and_job(url: str, event_id: str) -> tuple[dict[str, Any], str | None]:
    store = await create_event_store(url, migrate=False)
    try:
        event = await store.read_event(uuid.UUID(event_id))
        assert event is not None
        job = await SqlJobQueue(store).get(event_id)  # the delivery's job id is the event's
        assert job is not None
        return dict(event.metadata), job.traceparent
    finally:
        await store.close()


def test_a_request_trace_reaches_the_event_the_job_the_webhook_and_the_live_frame(
    world: World,
    receiver: tuple[Receiver, str],  # noqa: F811
) -> None:
    state, url = receiver
    http, a = world.http, world.a
    form = published_form(http, a, new_user(http, a, "premium"))
    data(
        http.put(
            f"/formease/forms/{form}/webhook",
            json={"url": url, "secret": SECRET},
            headers=a.staff,
        )
    )
    token = open_form(http, a, form)["token"]
    with _admin_feed(world, a.admin) as feed:
        sent = http.post(
            "/formease/submissions",
            json={"token": token, "answers": {"name": "Ada"}},
            headers={**a.respondent, "traceparent": CALLER},
        )
        assert sent.status_code == 201, sent.text
        # The answer names the same trace (a new span under the caller's).
        assert _trace_id(sent.headers["traceparent"]) == TRACE_ID
        frame = None
        deadline = time.monotonic() + 10
        while frame is None and time.monotonic() < deadline:
            message = orjson.loads(feed.recv(timeout=10))
            if (
                message["type"] == "event"
                and message["event"]["type"] == SubmissionReceived.event_type
            ):
                frame = message["event"]
    assert frame is not None
    assert frame["trace_id"] == TRACE_ID

    deadline = time.monotonic() + 20
    while not state.accepted and time.monotonic() < deadline:
        time.sleep(0.05)
    (delivery,) = state.accepted.values()
    assert _trace_id(delivery["headers"]["traceparent"]) == TRACE_ID
    # Every attempt, retried or not, sends the submission's trace.
    assert {_trace_id(attempt["headers"]["traceparent"]) for attempt in state.attempts} == {
        TRACE_ID
    }

    event_id = orjson.loads(delivery["body"])["id"]
    metadata, job_traceparent = asyncio.run(_event_and_job(world.url, event_id))
    assert metadata["trace_id"] == TRACE_ID
    assert _trace_id(metadata["traceparent"]) == TRACE_ID
    assert _trace_id(job_traceparent) == TRACE_ID
