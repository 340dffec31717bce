"""Signed webhooks: each form's submissions posted to its URL, retried, signed.

The dispatcher follows the log from its checkpoint (history, then live), so a
restart resumes where it stopped and a submission committed while it was down is
still delivered. Each delivery carries ``Idempotency-Key: <event id>``: retries
(by the resilient transport, then by the dispatcher's own rounds) may reach the
receiver more than once, and the key lets it keep exactly one.

Signature: ``X-FormEase-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
"<t>.<body>")>``; receivers recompute it and refuse old timestamps (replays).

Seam: the durable jobs queue (``headwater.jobs``) would give per-delivery retries
with backoff across nodes; until an app may own one, this runs one dispatcher per
node, so a multi-node deployment should enable it on one node only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from typing import Any, Final

import httpx
import orjson

from apps.formease.domain.sessions import SubmissionReceived
from apps.formease.service import FormEase
from headwater.eventstore import EventStore, RecordedEvent
from headwater.resilience.outbound import OutboundPolicy, outbound_client
from headwater.resilience.retry import RetryPolicy
from headwater.security.opaque import equal_text

log = logging.getLogger(__name__)

CHECKPOINT: Final = "fe_webhooks"
#: Dispatcher rounds after the transport's own retries ran out, and their pause.
ROUNDS: Final = 3
ROUND_PAUSE: Final = 1.0


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
    retry = RetryPolicy(
        attempts=4, initial=0.1, maximum=2.0, jitter=0.1, retry_on=(httpx.TransportError,)
    )
    return OutboundPolicy(timeout=10.0, retry=retry)


class WebhookDispatcher:
    def __init__(self, store: EventStore, service: FormEase) -> None:
        self.store = store
        self.service = service
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
        after = await self.store.get_checkpoint(CHECKPOINT)
        async with outbound_client(_policy()) as client:
            async for event in self.store.subscribe(
                after=after, types=[SubmissionReceived.event_type]
            ):
                try:
                    await self._deliver(client, event)
                except Exception:  # one bad delivery must not stop the others
                    log.exception("webhook delivery of event %s failed", event.id)
                await self.store.set_checkpoint(CHECKPOINT, event.position)

    async def _deliver(self, client: httpx.AsyncClient, event: RecordedEvent) -> None:
        tenant = event.tenant_id or ""
        form = await self.service.load_form(tenant, event.data["form_id"])
        if form.webhook is None:
            return
        payload: dict[str, Any] = {
            "id": str(event.id),
            "type": "submission.received",
            "position": event.position,
            "data": event.data,
        }
        body = orjson.dumps(payload)
        for attempt in range(ROUNDS):
            headers = {
                "content-type": "application/json",
                "idempotency-key": str(event.id),
                "x-formease-event": "submission.received",
                "x-formease-signature": sign(form.webhook["secret"], int(time.time()), body),
            }
            try:
                response = await client.post(form.webhook["url"], content=body, headers=headers)
                if response.is_success:
                    return
                log.warning("webhook %s answered %s", form.webhook["url"], response.status_code)
            except httpx.HTTPError as exc:
                log.warning("webhook %s failed: %s", form.webhook["url"], exc)
            if attempt + 1 < ROUNDS:
                await asyncio.sleep(ROUND_PAUSE * (attempt + 1))
