"""``QrEventModule``: QR Event's routes, read models and endpoint limits, for Headwater.

Load with ``headwater serve --app apps.qrevent.module:module``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from fastapi import APIRouter

from apps.qrevent.api.routes import (
    deletes,
    displays,
    events,
    families,
    games,
    guests,
    imports,
    invitations,
    pages,
    scans,
)
from apps.qrevent.commands import build_bus
from apps.qrevent.domain.game import AnswerRecorded
from apps.qrevent.leaderboard import LEADERBOARD_JOB, refresh, topic_provider
from apps.qrevent.projections import PROJECTIONS
from apps.qrevent.services import QrEventServices
from apps.qrevent.signing import QrSigner
from apps.qrevent.suggestions import GameSuggestions
from headwater import Module, Runtime
from headwater.domain import Repository
from headwater.eventstore import EventStore
from headwater.jobs import Job, JobsModule
from headwater.projections import InlineHandler, attach_inline
from headwater.ratelimit import SEED_ENDPOINTS, EndpointLimit
from headwater.realtime import RealtimeModule

#: The seed's per-endpoint limits that are QR Event's (login is the framework's own).
#: A guest's counters are their invitation's, not their address's: a whole venue
#: shares one Wi-Fi address. Staff (no X-Invitation) are counted as themselves.
GUEST_KEY = "header:X-Invitation"
QREVENT_ENDPOINTS: tuple[EndpointLimit, ...] = (
    *(
        replace(e, key=GUEST_KEY) if "/games/" in e.route else e
        for e in SEED_ENDPOINTS
        if "/auth/" not in e.route
    ),
    EndpointLimit("GET /api/me", 120, burst=30, key=GUEST_KEY),
    EndpointLimit("POST /api/games/*/join", 30, burst=10, key=GUEST_KEY),
)


class QrEventModule(Module):
    name = "qrevent"
    version = "0.1.0"

    def __init__(self) -> None:
        self._handlers: list[InlineHandler] = []
        self.suggestions = GameSuggestions()

    def routers(self) -> Sequence[APIRouter]:
        return (
            events.router,
            families.router,
            deletes.router,
            displays.router,
            guests.router,
            invitations.router,
            scans.router,
            games.router,
            imports.router,
            pages.router,
            *self.suggestions.routers(),
        )

    def endpoint_limits(self) -> Sequence[EndpointLimit]:
        return QREVENT_ENDPOINTS

    def declare_jobs(self, jobs: JobsModule) -> None:
        declare_jobs(jobs)

    async def migrate(self, store: EventStore) -> list[str]:
        # The read models are the projections' tables: attaching creates (or rebuilds) them.
        return []

    async def start(self, runtime: Runtime) -> None:
        _started.runtime = runtime
        # Inline: a guest registered or a scan admitted is in the read model when the
        # request returns, so the door and the counts never read their own writes late.
        self._handlers = await attach_inline(runtime.store, PROJECTIONS)
        projections = runtime.projections
        if projections is not None:
            projections.know(PROJECTIONS)  # status with exact lag; rebuild from the dashboard
        repository = Repository(runtime.store)
        runtime.provide(
            QrEventServices(
                bus=build_bus(repository, runtime.cache),
                repository=repository,
                signer=QrSigner(runtime.secret),
            )
        )
        hub = runtime.hub
        if hub is not None:
            # Only when the realtime module runs on this app; without it, the
            # leaderboard is still served (and cached) over HTTP.
            hub.add_topic(topic_provider(runtime.store, runtime.cache))
        await self.suggestions.start(runtime)

    async def stop(self, runtime: Runtime) -> None:
        await self.suggestions.stop(runtime)
        services = runtime.find(QrEventServices)
        if services is not None:
            await services.cancel_all()
        for handler in self._handlers:
            runtime.store.remove_inline_handler(handler)
        self._handlers = []
        runtime.withdraw(QrEventServices)


module = QrEventModule()


class _Started:
    """The runtime the job handlers below need (they receive only the job)."""

    runtime: Runtime | None = None


_started = _Started()


async def recompute_leaderboard(job: Job) -> None:
    runtime = _started.runtime
    if runtime is None or job.tenant_id is None:
        return  # QR Event is not started in this process: nothing cached here to refresh
    await refresh(runtime.cache, runtime.store, job.tenant_id, job.payload["game_id"])


def declare_jobs(jobs: JobsModule) -> None:
    """Each score event enqueues one leaderboard recomputation per game (deduplicated
    while one is pending, so a burst of answers costs one query), in the append's own
    transaction: a committed answer is never left without its recomputation."""
    if jobs.registry.get(LEADERBOARD_JOB) is not None:
        return  # declared already (this module's ``jobs`` serves in the core one's place)
    jobs.on_event(
        AnswerRecorded.event_type,
        LEADERBOARD_JOB,
        payload=lambda event: {"game_id": event.data["game_id"]},
        dedupe_key=lambda event: f"qrevent:leaderboard:{event.data['game_id']}",
    )
    jobs.handler(LEADERBOARD_JOB)(recompute_leaderboard)


#: QR Event's jobs alone, for dedicated workers: ``headwater worker --app
#: apps.qrevent.module:jobs``. Served apps get them through ``declare_jobs``.
jobs = JobsModule()
declare_jobs(jobs)


#: The realtime hub QR Event's screen page follows (``leaderboard:{game_id}``); serve it
#: with ``--app apps.qrevent.module:realtime`` before ``--app apps.qrevent.module:module``.
realtime = RealtimeModule()
