"""The reply job against a real store: taken over mid-reply, raced, cancelled, failing.

Each case checks the log itself: the reply stream holds one ``ReplyStarted``, chunks
whose text is exactly the provider's answer (no piece twice, none missing) and one
terminal event, whatever happened to the workers writing it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest

from apps.assistant.budgets import Budgets
from apps.assistant.domain.replies import (
    REPLY_CANCELLED,
    REPLY_CHUNK,
    REPLY_COMPLETED,
    REPLY_FAILED,
    REPLY_STARTED,
    reply_stream,
)
from apps.assistant.generator import ReplyJob
from apps.assistant.projections import PROJECTIONS
from apps.assistant.providers.base import Result
from apps.assistant.providers.local import BUILT_IN, DocumentIndex, LocalProvider, compose
from apps.assistant.service import Assistant
from headwater import EventStore, RecordedEvent, create_event_store
from headwater.jobs import Backoff, Job, JobState
from headwater.projections import attach_inline

pytestmark = pytest.mark.anyio
TENANT, USER = "tenant-1", "user-1"
QUESTION = "How are replies resumed and what are budgets?"


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[EventStore]:
    async with await create_event_store(store_url, migrate=True) as opened:
        await attach_inline(opened, PROJECTIONS)
        yield opened


def _index() -> DocumentIndex:
    return DocumentIndex(BUILT_IN)


def _expected() -> str:
    return compose(QUESTION, _index().search(QUESTION))[0]


async def _request(store: EventStore) -> Job:
    service = Assistant(store, Budgets(user=10**9, tenant=10**9))
    thread_id = await service.create_thread(TENANT, USER, "t")
    reply_id = await service.post(TENANT, USER, thread_id, [{"role": "user", "content": QUESTION}])
    return _job({"reply_id": reply_id, "thread_id": thread_id, "user_id": USER}, attempt=1)


def _job(payload: dict[str, str], *, attempt: int, attempts: int = 5) -> Job:
    moment = datetime.now(UTC)
    return Job(
        id=f"job-{payload['reply_id']}",
        name="assistant-reply",
        payload=payload,
        state=JobState.RUNNING,
        priority=0,
        run_at=moment,
        attempts=attempt,
        max_attempts=attempts,
        backoff=Backoff.parse("exponential"),
        dedupe_key=None,
        tenant_id=TENANT,
        last_error=None,
        created_at=moment,
        updated_at=moment,
    )


async def _events(store: EventStore, job: Job) -> list[RecordedEvent]:
    stream = reply_stream(str(job.payload["reply_id"]))
    return [e async for e in store.read_stream(stream, tenant_id=TENANT)]


def _check(events: list[RecordedEvent], terminal: str) -> str:
    types = [e.type for e in events]
    assert types[0] == REPLY_STARTED
    assert types.count(REPLY_STARTED) == 1
    assert types[-1] == terminal
    assert sum(t in (REPLY_COMPLETED, REPLY_FAILED, REPLY_CANCELLED) for t in types) == 1
    assert set(types[1:-1]) <= {REPLY_CHUNK}
    return "".join(e.data["text"] for e in events if e.type == REPLY_CHUNK)


def _writer(store: EventStore, delay_ms: int = 2) -> ReplyJob:
    return ReplyJob(store, LocalProvider(_index(), delay_ms=delay_ms), coalesce_ms=5)


async def _until_chunks(store: EventStore, job: Job, count: int) -> None:
    for _ in range(2000):
        if sum(e.type == REPLY_CHUNK for e in await _events(store, job)) >= count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"fewer than {count} chunks were written")


async def test_an_uninterrupted_reply_is_the_answer_coalesced(store: EventStore) -> None:
    job = await _request(store)
    await _writer(store)(job)
    events = await _events(store, job)
    text = _check(events, REPLY_COMPLETED)
    assert text == _expected()
    assert events[-1].data["text"] == text
    assert len(events) - 2 < len(text.split())  # coalesced, not one row per word


async def test_a_worker_killed_mid_reply_is_continued_without_gap_or_duplicate(
    store: EventStore,
) -> None:
    job = await _request(store)
    first = asyncio.create_task(_writer(store, delay_ms=5)(job))
    await _until_chunks(store, job, 2)
    first.cancel()  # the worker dies: nothing after this point is written by it
    with pytest.raises(asyncio.CancelledError):
        await first
    events = await _events(store, job)
    assert [e.type for e in events] == [REPLY_STARTED] + [REPLY_CHUNK] * (len(events) - 1)
    partial = "".join(e.data["text"] for e in events[1:])
    assert partial
    assert _expected().startswith(partial)
    await _writer(store)(_job(job.payload, attempt=2))
    assert _check(await _events(store, job), REPLY_COMPLETED) == _expected()


async def test_two_workers_racing_on_one_reply_write_it_once(store: EventStore) -> None:
    # A worker whose lease lapsed while it still runs, and the one that replaced it.
    job = await _request(store)
    await asyncio.gather(_writer(store)(job), _writer(store)(_job(job.payload, attempt=2)))
    assert _check(await _events(store, job), REPLY_COMPLETED) == _expected()


async def test_a_cancel_racing_the_worker_ends_the_reply_there(store: EventStore) -> None:
    job = await _request(store)
    service = Assistant(store, Budgets(user=10**9, tenant=10**9))
    running = asyncio.create_task(_writer(store, delay_ms=5)(job))
    await _until_chunks(store, job, 1)
    cancelled = await service.cancel(TENANT, USER, str(job.payload["reply_id"]))
    assert cancelled.status == "cancelled"
    await running  # the worker notices at its next append and stops without error
    events = await _events(store, job)
    assert _expected().startswith(_check(events, REPLY_CANCELLED))
    assert events[-1].version == cancelled.version


class Broken(LocalProvider):
    """Fails after a few words, as a model endpoint dropping mid-answer does."""

    async def stream(
        self, messages: Sequence[dict[str, str]], result: Result
    ) -> AsyncIterator[str]:
        count = 0
        async for piece in super().stream(messages, result):
            count += 1
            if count > 8:
                raise ConnectionError("the endpoint went away")
            yield piece


async def test_a_failing_provider_is_retried_then_the_reply_fails(store: EventStore) -> None:
    job = await _request(store)
    broken = ReplyJob(store, Broken(_index(), delay_ms=0), coalesce_ms=0)
    with pytest.raises(ConnectionError):
        await broken(_job(job.payload, attempt=1, attempts=2))
    assert (await _events(store, job))[-1].type == REPLY_CHUNK  # not ended: retried
    await broken(_job(job.payload, attempt=2, attempts=2))
    events = await _events(store, job)
    assert _expected().startswith(_check(events, REPLY_FAILED))
    assert events[-1].data["error"] == "ConnectionError"
