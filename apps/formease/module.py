"""FormEase as a Headwater module: ``headwater serve --app apps.formease.module:module``.

At start it attaches the inline projections (building their tables, or rebuilding
them from the log when their declaration changed) and registers the service. Every
process that appends FormEase events must load this module, so that every append
carries its read-model rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from fastapi import APIRouter

from apps.formease.api.routes import (
    admin,
    deletes,
    forms,
    public,
    responses,
    submissions,
    users,
)
from apps.formease.domain.deletions import SubmissionDeleted
from apps.formease.domain.forms import (
    FormDeleted,
    FormFieldRemoved,
    FormFieldSet,
    FormPublished,
    FormRenamed,
)
from apps.formease.domain.sessions import SubmissionReceived
from apps.formease.domain.users import (
    FormCreated,
    Plan,
    UserDeleted,
    UserRegistered,
    UserUpdated,
)
from apps.formease.projections import PROJECTIONS
from apps.formease.public_links import PublicLinks
from apps.formease.service import FormEase
from apps.formease.webhooks import JOB as WEBHOOK_JOB
from apps.formease.webhooks import WebhookDispatcher, WebhookSender, sender_client
from headwater import Module, Role, Runtime
from headwater.admin import Column, Filter, Panel, Series
from headwater.errors import InvalidInput, StoreUnavailable
from headwater.eventstore import EventStore
from headwater.jobs import Job, JobsModule
from headwater.projections import InlineHandler, attach_inline, migrate_projections
from headwater.ratelimit import EndpointLimit
from headwater.realtime import RealtimeModule
from headwater.resilience import EgressPolicy

#: For ``RealtimeModule(admin_events=ADMIN_EVENTS)``: stored type -> admin feed name.
ADMIN_EVENTS: Final[dict[str, str]] = {
    UserRegistered.event_type: "user.created",
    UserUpdated.event_type: "user.updated",
    FormCreated.event_type: "form.created",
    FormRenamed.event_type: "form.updated",
    FormFieldSet.event_type: "form.updated",
    FormFieldRemoved.event_type: "form.updated",
    FormPublished.event_type: "form.updated",
    SubmissionReceived.event_type: "submission.received",
    UserDeleted.event_type: "user.deleted",
    FormDeleted.event_type: "form.deleted",
    SubmissionDeleted.event_type: "submission.deleted",
}

_METRICS = "/formease/admin/form-metrics"
_RANGE = (Filter("days", "Range (days)", ("7", "30", "90", "365"), default="30"),)
_ACTIVITY = (
    "submission.received",
    "form.created",
    "form.updated",
    "user.created",
    "user.updated",
    "user.deleted",
    "form.deleted",
    "submission.deleted",
)

#: The backoffice's screens on Headwater's ``/admin`` dashboard.
ADMIN_PANELS: Final[tuple[Panel, ...]] = (
    Panel(
        "formease-form-metrics",
        "Forms and submissions per day",
        "chart",
        _METRICS,
        filters=_RANGE,
        series=(
            Series("submissions", "Submissions"),
            Series("forms_created", "Forms created"),
            Series("unique_users", "Unique creators"),
        ),
        refresh_on=_ACTIVITY,
    ),
    Panel(
        "formease-completion",
        "Completion time per day, seconds",
        "chart",
        _METRICS,
        filters=_RANGE,
        series=(
            Series("median_completion_ms", "Median", scale=1000.0),
            Series("p90_completion_ms", "p90", scale=1000.0),
        ),
        refresh_on=("submission.received",),
    ),
    Panel(
        "formease-user-stats",
        "Users",
        "table",
        "/formease/admin/user-stats?limit=25",
        filters=(
            Filter("search", "Search"),
            Filter("plan", "Plan", tuple(plan.value for plan in Plan)),
            Filter("active_days", "Active within (days)", ("1", "7", "30", "90")),
        ),
        columns=(
            Column("email", "Email"),
            Column("plan", "Plan"),
            Column("role", "Role"),
            Column("forms", "Forms"),
            Column("submissions", "Submissions"),
            Column("recent_submissions", "Last 30 days"),
            Column("last_active_at", "Last active"),
        ),
        refresh_on=_ACTIVITY,
    ),
    Panel(
        "formease-reviews",
        "Conflict review queue",
        "reviews",
        "/formease/admin/reviews",
        accept="/formease/admin/reviews/{review_id}/accept",
        reject="/formease/admin/reviews/{review_id}/reject",
        refresh_on=("review.opened", "review.accepted", "review.rejected"),
        role=Role.TENANT_ADMIN,  # who may decide them
    ),
)


#: Respondents on a public link hold no account: each is counted by their open session
#: (many share a school's or an office's address), each link by its own counter (a
#: link posted somewhere hostile cannot take the others down), and an address by what
#: it opens (so one machine cannot open sessions without end).
LINK, SESSION = "segment:2", "header:X-Form-Session"
FORMEASE_ENDPOINTS: tuple[EndpointLimit, ...] = (
    EndpointLimit("POST /formease/public/*/open", 600, burst=120, key=LINK),
    EndpointLimit("POST /formease/public/*/open", 30, burst=10),
    EndpointLimit("POST /formease/public/*/views", 120, burst=40, key=SESSION),
    EndpointLimit("POST /formease/public/*/submissions", 10, burst=3, key=SESSION),
    EndpointLimit("POST /formease/public/*/submissions", 600, burst=120, key=LINK),
)


class FormEaseModule(Module):
    name = "formease"
    version = "0.1.0"

    def __init__(self) -> None:
        self._handlers: list[InlineHandler] = []
        self._webhooks: WebhookDispatcher | None = None
        self._sender: WebhookSender | None = None

    def routers(self) -> Sequence[APIRouter]:
        return (
            users.router,
            forms.router,
            public.staff,
            public.public,
            responses.router,
            submissions.router,
            admin.router,
            deletes.router,
        )

    def endpoint_limits(self) -> Sequence[EndpointLimit]:
        return FORMEASE_ENDPOINTS

    def admin_panels(self) -> Sequence[Panel]:
        return ADMIN_PANELS

    def declare_jobs(self, jobs: JobsModule) -> None:
        jobs.handler(WEBHOOK_JOB, timeout=60.0)(self._deliver)

    async def _deliver(self, job: Job) -> None:
        if self._sender is None:
            raise StoreUnavailable("FormEase is not started on this node")
        await self._sender(job)

    async def migrate(self, store: EventStore) -> list[str]:
        applied = await migrate_projections(store)
        # Tables are created (or rebuilt from the log) when the projections attach.
        return applied

    async def start(self, runtime: Runtime) -> None:
        await migrate_projections(runtime.store)
        self._handlers = await attach_inline(runtime.store, PROJECTIONS)
        projections = runtime.projections
        if projections is not None:
            projections.know(PROJECTIONS)  # status with exact lag; rebuild from the dashboard
        # Plan limits come from the tenant's settings when the security service runs.
        security = runtime.security
        service = FormEase(
            runtime.store,
            runtime.secret,
            tenant_settings=None if security is None else security.tenant_settings,
            cache=runtime.cache,
        )
        runtime.provide(service)
        runtime.provide(PublicLinks(service, runtime.secret))
        queue = runtime.jobs
        if queue is None:
            raise InvalidInput("FormEase needs the jobs module (a core module) for its webhooks")
        egress = EgressPolicy.of(runtime.settings.outbound_allow)
        self._sender = WebhookSender(runtime.store, service, sender_client(egress))
        self._webhooks = WebhookDispatcher(runtime.store, service, queue)
        await self._webhooks.start()

    async def stop(self, runtime: Runtime) -> None:
        if self._webhooks is not None:
            await self._webhooks.stop()
            self._webhooks = None
        if self._sender is not None:
            await self._sender.client.aclose()
            self._sender = None
        for handler in self._handlers:
            runtime.store.remove_inline_handler(handler)
        self._handlers = []
        runtime.withdraw(PublicLinks)
        runtime.withdraw(FormEase)


module = FormEaseModule()

#: The realtime hub with FormEase's admin feed names, for servers that do not install
#: one themselves: ``--app apps.formease.module:module --app apps.formease.module:realtime``.
realtime = RealtimeModule(admin_events=ADMIN_EVENTS)
