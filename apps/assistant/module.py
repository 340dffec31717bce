"""The assistant as a Headwater module: ``headwater serve --app apps.assistant.module:module``.

At start it attaches its inline projections, registers the service and starts its
own reply worker on the node's durable queue. The worker is the assistant's, not the
node's shared one, for one reason: its lease. A reply's worker that dies must be
replaced within seconds (``HEADWATER_ASSISTANT_REPLY_LEASE``), where the shared
workers hold jobs for 30 s; the jobs themselves are ordinary queued jobs, enqueued
atomically with each ``ReplyRequested`` by a trigger on the node's jobs module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from fastapi import APIRouter

from apps.assistant.api.routes import admin, builds, pages, replies, threads
from apps.assistant.budgets import Budgets
from apps.assistant.builder import BuildJob
from apps.assistant.builder_views import BUILD_PROJECTIONS
from apps.assistant.channels import STREAM_KIND, narrow
from apps.assistant.config import AssistantConfig
from apps.assistant.domain.threads import REPLY_REQUESTED
from apps.assistant.generator import JOB, ReplyJob
from apps.assistant.projections import PROJECTIONS
from apps.assistant.providers.base import Provider
from apps.assistant.providers.local import DocumentIndex, LocalProvider
from apps.assistant.providers.openai import OpenAIProvider
from apps.assistant.service import Assistant
from headwater import Module, RecordedEvent, Runtime
from headwater.admin import Column, Panel
from headwater.errors import InvalidInput
from headwater.eventstore import EventStore
from headwater.experiments import Experiments
from headwater.jobs import Backoff, JobRegistry, JobsModule, Worker, WorkerOptions
from headwater.projections import InlineHandler, attach_inline, migrate_projections
from headwater.ratelimit import EndpointLimit
from headwater.realtime import ChannelPolicy

#: Per user (the caller's principal): replies cost tokens and a worker's time.
ASSISTANT_ENDPOINTS: Final[tuple[EndpointLimit, ...]] = (
    EndpointLimit("POST /assistant/threads/*/messages", 30, burst=10),
    EndpointLimit("POST /assistant/threads", 30, burst=10),
    EndpointLimit("POST /assistant/builds", 10, burst=5),
)
#: Token use on the ``/admin`` dashboard, for the tenant's admins.
ADMIN_PANELS: Final[tuple[Panel, ...]] = (
    Panel(
        "assistant-usage",
        "Assistant: tokens per user this month",
        "table",
        "/assistant/admin/usage?limit=25",
        columns=(
            Column("user_id", "User"),
            Column("tokens", "Tokens"),
            Column("replies", "Replies"),
            Column("left", "Left"),
            Column("resets_at", "Resets"),
        ),
    ),
)
#: A reply job gets this many runs: each taken-over run continues from the log, so
#: node losses and database outages in a row still end in a complete reply.
REPLY_ATTEMPTS: Final = 20
#: Someone is waiting for the reply: retry soon, and never wait long between runs.
REPLY_BACKOFF: Final = Backoff("exponential", base=0.5, max=5.0)


def _reply_payload(event: RecordedEvent) -> dict[str, str]:
    return {
        "reply_id": str(event.data["reply_id"]),
        "thread_id": event.stream_id.partition("-")[2],
        "user_id": str(event.data["user_id"]),
    }


def _reply_key(event: RecordedEvent) -> str:
    return f"assistant-reply:{event.data['reply_id']}"


class AssistantModule(Module):
    name = "assistant"
    version = "0.1.0"

    def __init__(self, config: AssistantConfig | None = None) -> None:
        self.config = config or AssistantConfig()
        self.provider: Provider | None = None
        self._handlers: list[InlineHandler] = []
        self._worker: Worker | None = None
        self._stream_policy: ChannelPolicy | None = None
        #: ``generate-app`` jobs run on the node's shared workers (see ``builder``).
        self.builder = BuildJob()

    def routers(self) -> Sequence[APIRouter]:
        return (threads.router, replies.router, builds.router, pages.router, admin.router)

    def admin_panels(self) -> Sequence[Panel]:
        return ADMIN_PANELS

    def endpoint_limits(self) -> Sequence[EndpointLimit]:
        return ASSISTANT_ENDPOINTS

    def declare_jobs(self, jobs: JobsModule) -> None:
        jobs.on_event(
            REPLY_REQUESTED,
            JOB,
            payload=_reply_payload,
            dedupe_key=_reply_key,
            attempts=REPLY_ATTEMPTS,
            backoff=REPLY_BACKOFF,
        )
        self.builder.declare(jobs)

    def make_provider(self) -> Provider:
        if self.config.openai_url:
            return OpenAIProvider.from_config(self.config)
        return LocalProvider(DocumentIndex.of_docs(), delay_ms=self.config.local_delay_ms)

    async def migrate(self, store: EventStore) -> list[str]:
        return await migrate_projections(store)

    async def start(self, runtime: Runtime) -> None:
        await migrate_projections(runtime.store)
        projections = (*PROJECTIONS, *BUILD_PROJECTIONS)
        self._handlers = await attach_inline(runtime.store, projections)
        if runtime.projections is not None:
            runtime.projections.know(projections)
        budgets = Budgets(user=self.config.user_budget, tenant=self.config.tenant_budget)
        runtime.provide(Assistant(runtime.store, budgets))
        if runtime.channels is not None:
            self._stream_policy = narrow(runtime.channels, runtime.store)
        queue = runtime.jobs
        if queue is None:
            raise InvalidInput("the assistant needs the jobs module (a core module) for replies")
        self.provider = self.make_provider()
        self.builder.store = runtime.store
        # Only a configured model describes builds; the local one answers from docs.
        self.builder.provider = self.provider if self.config.openai_url else None
        registry = JobRegistry()
        registry.register(
            JOB,
            ReplyJob(
                runtime.store,
                self.provider,
                coalesce_ms=self.config.coalesce_ms,
                coalesce_chars=self.config.coalesce_chars,
                experiments=Experiments(runtime.store),
            ),
        )
        options = WorkerOptions(
            concurrency=self.config.reply_concurrency,
            lease=self.config.reply_lease,
            poll_interval=min(1.0, self.config.reply_lease / 4),
        )
        self._worker = Worker(queue, registry, options)
        await self._worker.start()

    async def stop(self, runtime: Runtime) -> None:
        if self._worker is not None:
            await self._worker.stop()
            self._worker = None
        self.builder.store = self.builder.provider = None
        if self.provider is not None:
            await self.provider.close()
            self.provider = None
        for handler in self._handlers:
            runtime.store.remove_inline_handler(handler)
        self._handlers = []
        if runtime.channels is not None and self._stream_policy is not None:
            runtime.channels.set_policy(STREAM_KIND, self._stream_policy)
            self._stream_policy = None
        runtime.withdraw(Assistant)


module = AssistantModule(AssistantConfig.from_env())
