"""Signed webhooks: each form's submissions posted to its URL, retried, signed.

Two parts. The dispatcher follows the log from its checkpoint (history, then live),
so a restart resumes where it stopped, and enqueues one durable job per submission
to a form that has a webhook, in the job queue of ``headwater.jobs``. The job id is
the event id, so dispatchers on several nodes, or one replaying after a crash,
enqueue each delivery once. A worker on any node then posts it: a refusal or a
network error fails the attempt and the queue retries with exponential backoff;
after the last attempt the job is dead, and an operator retries it from ``/admin``.

Each delivery carries ``traceparent`` (W3C): the trace of the request that submitted
the answers, continued by the job that posts it.

Each delivery carries ``Idempotency-Key: <event id>``: retries may reach the
receiver more than once, and the key lets it keep exactly one. The job holds only
ids; the body is read from the log when it is sent, so answers are stored once.

Signature: ``X-FormEase-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
"<t>.<body>")>``; receivers recompute it and refuse old timestamps (replays).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
import uuid
from typing import Any, Final

import httpx
import orjson

from apps.formease.domain.sessions import SubmissionReceived
from apps.formease.service import FormEase
from headwater.errors import OutboundFailed
from headwater.eventstore import EventStore, RecordedEvent
from headwater.jobs import Backoff, Job, JobQueue
from headwater.observability import inject
from headwater.resilience import (
    EgressPolicy,
    OutboundPolicy,
    RetryPolicy,
    failure_reason,
    outbound_client,
)
from headwater.security import equal_text

log = logging.getLogger(__name__)

CHECKPOINT: Final = "fe_webhooks"
JOB: Final = "formease.webhook"
#: Attempts per delivery, and the pause after each failure: 0.5 s doubling to at
#: most 10 minutes, about 1.4 hours of trying in all before the job is dead.
ATTEMPTS: Final = 12
BACKOFF: Final = Backoff("exponential", base=0.5, max=600.0)
#: Pause before the dispatcher resubscribes after the store failed under it.
RESUME_PAUSE: Final = 1.0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, tolerance: float = 300.0) -> bool:
    """What a receiver does: recompute, compare in constant time, reject stale stamps."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    return equal_text(sign(secret, timestamp, body), header)


def _policy() -> OutboundPolicy:
    # One quick transport-level retry; the queue's backoff handles longer outages.
    retry = RetryPolicy(
        attempts=2, initial=0.1, maximum=0.5, jitter=0.1, retry_on=(httpx.TransportError,)
    )
    return OutboundPolicy(timeout=10.0, retry=retry)


class WebhookDispatcher:
    """Turns each submission to a form with a webhook into a delivery job."""

    def __init__(self, store: EventStore, service: FormEase, queue: JobQueue) -> None:
        self.store = store
        self.service = service
        self.queue = queue
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if await self.store.get_checkpoint(CHECKPOINT) is None:
            # Webhooks start with the dispatcher: older submissions are not replayed.
            await self.store.set_checkpoint(CHECKPOINT, await self.store.head_position())
        self._task = asyncio.create_task(self._run(), name="formease-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self._follow()
            except Exception:
                # The store failed under us: resume from the checkpoint. Enqueuing is
                # idempotent, so events seen again before it are not enqueued twice.
                log.exception("webhook dispatcher failed; resuming from its checkpoint")
                await asyncio.sleep(RESUME_PAUSE)

    async def _follow(self) -> None:
        after = await self.store.get_checkpoint(CHECKPOINT)
        async for event in self.store.subscribe(after=after, types=[SubmissionReceived.event_type]):
            await self._enqueue(event)
            await self.store.set_checkpoint(CHECKPOINT, event.position)

    async def _enqueue(self, event: RecordedEvent) -> None:
        tenant = event.tenant_id or ""
        form = await self.service.load_form(tenant, event.data["form_id"])
        if form.webhook is None:
            return
        await self.queue.enqueue(
            JOB,
            {"event_id": str(event.id), "form_id": event.data["form_id"]},
            job_id=event.id,
            tenant_id=event.tenant_id,
            attempts=ATTEMPTS,
            backoff=BACKOFF,
            # The submission's trace (from the request that sent it): the delivery
            # continues it, so the receiver's logs can be joined to ours.
            traceparent=event.metadata.get("traceparent"),
        )


class WebhookSender:
    """The job handler: posts one delivery, signed with the form's current secret."""

    def __init__(self, store: EventStore, service: FormEase, client: httpx.AsyncClient) -> None:
        self.store = store
        self.service = service
        self.client = client

    async def __call__(self, job: Job) -> None:
        event = await self.store.read_event(uuid.UUID(job.payload["event_id"]))
        if event is None or event.tenant_id != job.tenant_id:
            return  # nothing to send (a job outlived its event's tenant): done, not retried
        form = await self.service.load_form(job.tenant_id or "", job.payload["form_id"])
        if form.webhook is None:
            return  # removed since it was enqueued: the receiver no longer wants it
        payload: dict[str, Any] = {
            "id": str(event.id),
            "type": "submission.received",
            "position": event.position,
            "data": event.data,
        }
        body = orjson.dumps(payload)
        headers = {
            "content-type": "application/json",
            "idempotency-key": str(event.id),
            "x-formease-event": "submission.received",
            "x-formease-signature": sign(form.webhook["secret"], int(time.time()), body),
        }
        inject(headers)  # traceparent: the worker runs this job inside the submission's trace
        try:
            response = await self.client.post(form.webhook["url"], content=body, headers=headers)
        except Exception as exc:
            # The job's last error is shown to the tenant: a short reason, never the
            # receiver's answer, a traceback or a path (the log keeps the detail).
            log.info("webhook delivery %s failed: %r", event.id, exc)
            raise OutboundFailed(failure_reason(exc)) from exc
        if not response.is_success:
            raise OutboundFailed(f"HTTP {response.status_code}")


def sender_client(egress: EgressPolicy) -> httpx.AsyncClient:
    """The resilient, guarded outbound client deliveries share (closed by the module's
    stop); ``egress`` is the operator's allow-list (``Settings.outbound_allow``)."""
    return outbound_client(_policy(), egress=egress)
