"""Typed dependencies for QR Event's routes (``Annotated`` aliases, FastAPI-template style)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request

from apps.qrevent.errors import NotInTenant
from apps.qrevent.projections.directory import EVENTS
from apps.qrevent.services import QrEventServices
from headwater.domain import CommandContext
from headwater.eventstore import EventStore
from headwater.http.deps import Staff, runtime_of
from headwater.identity.principal import Principal


async def get_services(request: Request) -> QrEventServices:
    services = runtime_of(request).services["qrevent"]
    assert isinstance(services, QrEventServices)
    return services


async def get_store(request: Request) -> EventStore:
    return runtime_of(request).store


Services = Annotated[QrEventServices, Depends(get_services)]
Store = Annotated[EventStore, Depends(get_store)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


def context(principal: Principal, key: str | None = None) -> CommandContext:
    """The command context: actor and tenant from the credential, never from the body."""
    tenant = principal.require_tenant()
    options: dict[str, Any] = {
        "actor": principal.subject,
        "tenant_id": tenant,
        "metadata": principal.event_metadata(),
    }
    if key:
        # Keys are per organizer: two organizers' "1" are different commands.
        return CommandContext.from_key(f"qrevent:{tenant}:{key}", **options)
    return CommandContext(**options)


async def load_event(store: EventStore, tenant_id: str, event_id: str) -> dict[str, Any]:
    """The event's row in the caller's tenant; another organizer's event is a 404."""
    cols = list(EVENTS.columns)
    row = await store.fetchone(
        f"SELECT {', '.join(cols)} FROM qe_events WHERE event_id = ? AND tenant_id = ?",
        (event_id, tenant_id),
    )
    if row is None:
        raise NotInTenant("no such event", event_id=event_id)
    return EVENTS.decode_row(row)


__all__ = ["IdempotencyKey", "Services", "Staff", "Store", "context", "load_event"]
