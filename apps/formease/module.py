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

from apps.formease.api.deps import SERVICE_NAME
from apps.formease.api.routes import admin, forms, responses, submissions, users
from apps.formease.domain.forms import FormFieldRemoved, FormFieldSet, FormPublished, FormRenamed
from apps.formease.domain.sessions import SubmissionReceived
from apps.formease.domain.users import FormCreated, UserRegistered
from apps.formease.projections import PROJECTIONS
from apps.formease.service import FormEase
from apps.formease.webhooks import WebhookDispatcher
from headwater.eventstore import EventStore
from headwater.modules import Module
from headwater.projections import InlineHandler, attach_inline, migrate_projections
from headwater.realtime import RealtimeModule
from headwater.runtime import Runtime

#: For ``RealtimeModule(admin_events=ADMIN_EVENTS)``: stored type -> admin feed name.
ADMIN_EVENTS: Final[dict[str, str]] = {
    UserRegistered.event_type: "user.created",
    FormCreated.event_type: "form.created",
    FormRenamed.event_type: "form.updated",
    FormFieldSet.event_type: "form.updated",
    FormFieldRemoved.event_type: "form.updated",
    FormPublished.event_type: "form.updated",
    SubmissionReceived.event_type: "submission.received",
}


class FormEaseModule(Module):
    name = "formease"
    version = "0.1.0"

    def __init__(self) -> None:
        self._handlers: list[InlineHandler] = []
        self._webhooks: WebhookDispatcher | None = None

    def routers(self) -> Sequence[APIRouter]:
        return (users.router, forms.router, responses.router, submissions.router, admin.router)

    async def migrate(self, store: EventStore) -> list[str]:
        applied = await migrate_projections(store)
        # Tables are created (or rebuilt from the log) when the projections attach.
        return applied

    async def start(self, runtime: Runtime) -> None:
        await migrate_projections(runtime.store)
        self._handlers = await attach_inline(runtime.store, PROJECTIONS)
        service = FormEase(runtime.store, runtime.secret)
        runtime.services[SERVICE_NAME] = service
        self._webhooks = WebhookDispatcher(runtime.store, service)
        await self._webhooks.start()

    async def stop(self, runtime: Runtime) -> None:
        if self._webhooks is not None:
            await self._webhooks.stop()
            self._webhooks = None
        for handler in self._handlers:
            runtime.store.remove_inline_handler(handler)
        self._handlers = []
        runtime.services.pop(SERVICE_NAME, None)


module = FormEaseModule()

#: The realtime hub with FormEase's admin feed names, for servers that do not install
#: one themselves: ``--app apps.formease.module:module --app apps.formease.module:realtime``.
realtime = RealtimeModule(admin_events=ADMIN_EVENTS)
