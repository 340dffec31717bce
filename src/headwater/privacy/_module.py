"""``PrivacyModule``: the key table, erasure and the audit trail in a served node.

::

    privacy = PrivacyModule(listeners=[CacheEraser(cache, keys_of)])
    app = create_app(settings, apps=[privacy, qrevent_module])

The audit trail has no switch: it reads the log, which every node has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from fastapi import APIRouter

from headwater.admin._panels import Column, Filter, Panel
from headwater.domain._events import EventRegistry, default_registry
from headwater.errors import StoreUnavailable
from headwater.eventstore import EventStore
from headwater.modules import Module
from headwater.privacy._audit import AuditTrail
from headwater.privacy._cipher import PersonalDataCipher
from headwater.privacy._erasure import Eraser, ErasureListener, SubjectErased
from headwater.privacy._keys import SubjectKeys
from headwater.privacy._routes import AUDIT_ROUTE, privacy_router
from headwater.runtime import Runtime


class PrivacyModule(Module):
    name: ClassVar[str] = "privacy"
    version: ClassVar[str] = "0.1.0"

    def __init__(
        self,
        *,
        registry: EventRegistry = default_registry,
        listeners: Sequence[ErasureListener] = (),
    ) -> None:
        self.registry = registry
        self.listeners = tuple(listeners)
        self.keys: SubjectKeys | None = None
        self.cipher: PersonalDataCipher | None = None
        self.eraser: Eraser | None = None
        self.trail: AuditTrail | None = None

    async def migrate(self, store: EventStore) -> list[str]:
        return await SubjectKeys(store).migrate()

    async def start(self, runtime: Runtime) -> None:
        self.keys = SubjectKeys(runtime.store)
        auto = runtime.settings.auto_migrate
        # Like the other modules: SQLite (one node) migrates itself; PostgreSQL nodes
        # leave it to `headwater migrate` unless told otherwise.
        if auto or (auto is None and runtime.store.dialect == "sqlite"):
            await self.keys.migrate()
        self.cipher = PersonalDataCipher(self.registry, self.keys)
        self.eraser = Eraser(
            runtime.store, self.keys, registry=self.registry, listeners=self.listeners
        )
        self.trail = AuditTrail(runtime.store, cipher=self.cipher)

    def _eraser(self) -> Eraser:
        if self.eraser is None:
            raise StoreUnavailable("the privacy module is not started on this node")
        return self.eraser

    def _trail(self) -> AuditTrail:
        if self.trail is None:
            raise StoreUnavailable("the privacy module is not started on this node")
        return self.trail

    def routers(self) -> Sequence[APIRouter]:
        return (privacy_router(self._eraser, self._trail),)

    def admin_panels(self) -> Sequence[Panel]:
        return (
            Panel(
                "audit",
                "Audit trail: who did what",
                "table",
                AUDIT_ROUTE,
                columns=(
                    Column("recorded_at", "When"),
                    Column("actor", "Who"),
                    Column("type", "What"),
                    Column("stream_id", "Stream"),
                    Column("command_type", "Command"),
                ),
                filters=(
                    Filter("actor", "Actor"),
                    Filter("stream", "Stream"),
                    Filter("type", "Event type"),
                ),
                refresh_on=(SubjectErased.event_type,),
            ),
        )
