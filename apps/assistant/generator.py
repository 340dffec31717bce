"""The reply job: a leased worker writes one reply into its stream, coalesced, exactly once.

Run by the assistant's own worker (see ``module``) from the durable queue: the job is
enqueued in the same transaction as the ``ReplyRequested`` event, so a request that
committed always gets its reply, and a node that dies mid-reply loses its lease and
another node's worker takes the job over.

Taking over is reading: the reply stream says how much text was recorded and at which
version. The new worker asks the provider again and writes only what comes after the
recorded text, at the next version. Every append names the version it expects, so a
worker whose lease lapsed (still running somewhere) or a cancel racing a chunk can
only make the other side's append fail, never a duplicate or a gap; the loser reads
again and goes on from what the log holds, or stops if the reply has ended.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from apps.assistant.domain.replies import (
    KINDS,
    REPLY_CHUNK,
    REPLY_COMPLETED,
    REPLY_FAILED,
    REPLY_STARTED,
    Reply,
    reply_stream,
)
from apps.assistant.domain.threads import Thread, now, thread_stream
from apps.assistant.providers.base import Provider, Result
from headwater.errors import ConcurrencyError, PermanentJobError
from headwater.eventstore import NO_STREAM, EventStore, NewEvent
from headwater.experiments import Assignment, ExperimentNotFound, Experiments
from headwater.jobs import Job

log = logging.getLogger("apps.assistant")

JOB = "assistant-reply"
#: The prompt A/B test the reply job asks for the user's variant (see ``insights``).
PROMPT_TEST = "assistant-system-prompt"


class ReplyEnded(Exception):
    """The reply ended under us (cancelled, or finished by another worker)."""


async def load_reply(store: EventStore, reply_id: str, tenant_id: str | None) -> Reply:
    reply = Reply(reply_id)
    async for event in store.read_stream(reply_stream(reply_id), tenant_id=tenant_id):
        reply.apply(event)
    return reply


async def load_thread(store: EventStore, thread_id: str, tenant_id: str | None) -> Thread:
    thread = Thread(thread_id)
    async for event in store.read_stream(thread_stream(thread_id), tenant_id=tenant_id):
        thread.apply(event)
    return thread


def prompt_of(thread: Thread, reply_id: str) -> list[dict[str, str]]:
    """The messages posted before this reply was requested, in order."""
    prompt = []
    for message in thread.messages:
        if message.get("reply_id") == reply_id:
            break
        if "content" in message:
            prompt.append({"role": message["role"], "content": message["content"]})
    return prompt


class ReplyWriter:
    """Appends one reply's chunks at the versions the log expects next."""

    def __init__(self, store: EventStore, reply: Reply, tenant_id: str | None) -> None:
        self.store = store
        self.reply = reply
        self.tenant_id = tenant_id
        self.stream = reply_stream(reply.reply_id)

    @property
    def recorded(self) -> str:
        return self.reply.text

    async def reload(self) -> None:
        self.reply = await load_reply(self.store, self.reply.reply_id, self.tenant_id)
        if self.reply.finished:
            raise ReplyEnded(self.reply.status)

    async def append(self, event_type: str, data: dict[str, Any]) -> bool:
        """Append at the next version; False (after reading again) if someone else wrote it."""
        expected = self.reply.version or NO_STREAM
        try:
            result = await self.store.append(
                self.stream,
                NewEvent(event_type, data),
                expected_version=expected,
                tenant_id=self.tenant_id,
            )
        except ConcurrencyError:
            await self.reload()
            return False
        self.reply.version = result.version
        if event_type == REPLY_CHUNK:
            self.reply.parts.append(data["text"])
        else:
            self.reply.status = "streaming" if event_type == REPLY_STARTED else KINDS[event_type]
        return True

    async def flush(self, produced: str) -> None:
        """Record what of ``produced`` the log does not hold yet, as one chunk."""
        while len(produced) > len(self.recorded):
            await self.append(REPLY_CHUNK, {"text": produced[len(self.recorded) :]})


class ReplyJob:
    def __init__(
        self,
        store: EventStore,
        provider: Provider,
        *,
        coalesce_ms: int = 80,
        coalesce_chars: int = 256,
        experiments: Experiments | None = None,
    ) -> None:
        self.store = store
        self.provider = provider
        self.experiments = experiments
        self.coalesce = coalesce_ms / 1000
        self.coalesce_chars = coalesce_chars

    async def __call__(self, job: Job) -> None:
        payload = job.payload
        reply_id, tenant_id = str(payload["reply_id"]), job.tenant_id
        reply = await load_reply(self.store, reply_id, tenant_id)
        if reply.finished:
            return
        thread = await load_thread(self.store, str(payload["thread_id"]), tenant_id)
        writer = ReplyWriter(self.store, reply, tenant_id)
        variant = await self._variant(tenant_id, str(payload["user_id"]))
        try:
            if reply.version == 0:
                started = {
                    "thread_id": thread.thread_id,
                    "provider": self.provider.name,
                    "at": now(),
                }
                if variant is not None:
                    started["variant"] = variant.variant
                await writer.append(REPLY_STARTED, started)
            await self._generate(writer, thread, job, variant)
        except ReplyEnded:
            return

    async def _variant(self, tenant_id: str | None, user_id: str) -> Assignment | None:
        """The user's prompt variant when the test runs in their tenant. Sticky, so a
        worker taking a reply over asks the same prompt and continues the same text;
        the exposure is written once, at the user's first reply."""
        if self.experiments is None or tenant_id is None:
            return None
        try:
            return await self.experiments.get_variant(tenant_id, PROMPT_TEST, user_id)
        except ExperimentNotFound:
            return None

    async def _generate(
        self, writer: ReplyWriter, thread: Thread, job: Job, variant: Assignment | None = None
    ) -> None:
        reply_id = writer.reply.reply_id
        result = Result()
        produced = ""
        first_pending = None
        prompt = prompt_of(thread, reply_id)
        system = variant.payload.get("system") if variant is not None else None
        if isinstance(system, str):
            prompt = [{"role": "system", "content": system}, *prompt]
        try:
            async for delta in self.provider.stream(prompt, result):
                produced += delta
                if len(produced) <= len(writer.recorded):
                    continue  # taken over: the log holds this much already
                first_pending = first_pending or time.monotonic()
                waited = time.monotonic() - first_pending
                if (
                    waited >= self.coalesce
                    or len(produced) - len(writer.recorded) >= self.coalesce_chars
                ):
                    await writer.flush(produced)
                    first_pending = None
            await writer.flush(produced)
        except (ReplyEnded, PermanentJobError):
            raise
        except Exception as exc:
            if job.attempts_left > 0:
                raise  # retried with backoff; the next attempt continues from the log
            log.warning("assistant: reply %s failed: %s", reply_id, exc)
            await self._fail(writer, job, type(exc).__name__)
            return
        owner = {"thread_id": thread.thread_id, "user_id": str(job.payload["user_id"])}
        while True:
            await writer.flush(produced)
            completed = {
                "reply_id": reply_id,
                **owner,
                "text": writer.recorded,
                "usage": result.usage(),
                "citations": result.citations,
                "provider": self.provider.name,
                "at": now(),
            }
            # Another writer may have added a chunk since: then read, flush, try again.
            if await writer.append(REPLY_COMPLETED, completed):
                return

    async def _fail(self, writer: ReplyWriter, job: Job, error: str) -> None:
        owner = {"thread_id": str(job.payload["thread_id"]), "user_id": str(job.payload["user_id"])}
        failed = {"reply_id": writer.reply.reply_id, **owner, "error": error, "at": now()}
        while not await writer.append(REPLY_FAILED, failed):
            pass


def job_payload(reply_id: str, thread_id: str, user_id: str) -> dict[str, str]:
    return {"reply_id": reply_id, "thread_id": thread_id, "user_id": user_id}
