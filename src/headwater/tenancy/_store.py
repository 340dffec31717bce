"""An event store that reads and writes one tenant's events only, whatever the caller asks.

``TenantScopedStore(store, principal)`` is an ``EventStore`` (so a repository or a
handler takes it unchanged) whose every append and read carries the principal's
tenant. A handler cannot forget the tenant, and cannot name another:

* appends are written under the tenant and stamped with the principal's event
  metadata (actor, tenant, ``acting_as_admin``); appending to another tenant's stream
  fails as if the stream did not exist;
* reads of another tenant's stream, event or snapshot find nothing (a 404, not a
  403: the other tenant's ids are not confirmed to exist);
* raw SQL (``transaction``, ``commit``, checkpoints) is refused: it cannot be scoped
  automatically. ``unscoped`` hands out the runtime's store, a visible choice;
* ``hw.*`` (security) events can be neither appended nor read: accounts and keys are
  minted by the security layer only, and their events (which carry password hashes
  and key digests) never reach a handler, a response or a realtime subscriber.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any, NoReturn

from headwater.errors import Forbidden, InvalidInput, StreamNotFound, TenantMismatch
from headwater.eventstore import (
    AppendResult,
    EventFilter,
    EventStore,
    ExpectedVersion,
    InlineHandler,
    NewEvent,
    RecordedEvent,
    Snapshot,
    Statement,
    Transaction,
)
from headwater.identity._principal import Principal
from headwater.identity._reserved import is_security_event


class TenantScopedStore(EventStore):
    def __init__(self, store: EventStore, principal: Principal) -> None:
        super().__init__()
        if isinstance(store, TenantScopedStore):
            store = store.unscoped
        self._inner = store
        self.principal = principal
        #: ``Forbidden`` here for a principal without a tenant (e.g. anonymous).
        self.tenant_id: str = principal.require_tenant()
        self.dialect = store.dialect
        self.page_size = store.page_size
        self.fallback_poll_seconds = store.fallback_poll_seconds

    @property
    def unscoped(self) -> EventStore:
        """The runtime's store, unscoped: for code that deliberately crosses tenants."""
        return self._inner

    def _scope(self, tenant_id: str | None) -> str:
        if tenant_id is not None and tenant_id != self.tenant_id:
            raise Forbidden("a tenant-scoped store reads and writes its own tenant only")
        return self.tenant_id

    # --- writing ------------------------------------------------------------------------

    async def _append(
        self,
        stream_id: str,
        events: list[NewEvent],
        expected_version: ExpectedVersion,
        tenant_id: str | None,
    ) -> AppendResult:
        tenant = self._scope(tenant_id)
        stamp = self.principal.event_metadata()
        stamped = []
        for event in events:
            if is_security_event(event.type):
                raise InvalidInput(f"event type {event.type!r} is reserved for Headwater")
            # The principal's fields win: a handler cannot write another actor in.
            metadata = {**(event.metadata or {}), **stamp}
            stamped.append(dataclasses.replace(event, metadata=metadata))
        try:
            return await self._inner.append(
                stream_id, stamped, expected_version=expected_version, tenant_id=tenant
            )
        except TenantMismatch as exc:
            raise StreamNotFound(stream_id) from exc

    async def _save_snapshot(self, snapshot: Snapshot) -> None:
        if await self._inner.stream_version(snapshot.stream_id, tenant_id=self.tenant_id) is None:
            raise StreamNotFound(snapshot.stream_id)
        await self._inner.save_snapshot(snapshot)

    async def _commit(
        self, statements: list[Statement], checkpoint: tuple[str, int] | None
    ) -> NoReturn:
        self._refuse_sql()

    def add_inline_handler(self, handler: InlineHandler) -> NoReturn:
        raise InvalidInput("attach inline handlers to the runtime's store, not a scoped one")

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Transaction]:
        self._refuse_sql()

    def _refuse_sql(self) -> NoReturn:
        raise Forbidden(
            "raw SQL cannot be scoped to a tenant: use a read-model query that filters by "
            "tenant, or .unscoped deliberately"
        )

    # --- reading ------------------------------------------------------------------------
    # The public readers are delegated whole, rather than built on the page primitives,
    # so that hiding security events cannot end a read early (the base readers stop
    # at the first short page) and ``limit`` counts the events the caller sees.

    async def read_stream(
        self,
        stream_id: str,
        *,
        from_version: int | None = None,
        backwards: bool = False,
        limit: int | None = None,
        tenant_id: str | None = None,
    ) -> AsyncIterator[RecordedEvent]:
        events = self._inner.read_stream(
            stream_id,
            from_version=from_version,
            backwards=backwards,
            tenant_id=self._scope(tenant_id),
        )
        async for event in _visible(events, limit):
            yield event

    async def read_all(
        self,
        *,
        after: int | None = None,
        after_event_id: uuid.UUID | None = None,
        limit: int | None = None,
        types: Iterable[str] | None = None,
        stream_prefix: str | None = None,
        tenant_id: str | None = None,
    ) -> AsyncIterator[RecordedEvent]:
        events = self._inner.read_all(
            after=after,
            after_event_id=after_event_id,
            types=types,
            stream_prefix=stream_prefix,
            tenant_id=self._scope(tenant_id),
        )
        async for event in _visible(events, limit):
            yield event

    async def _read_stream_page(
        self,
        stream_id: str,
        from_version: int | None,
        backwards: bool,
        limit: int,
        tenant_id: str | None,
    ) -> list[RecordedEvent]:
        page = await self._inner._read_stream_page(
            stream_id, from_version, backwards, limit, self._scope(tenant_id)
        )
        return [e for e in page if not is_security_event(e.type)]

    async def _read_all_page(
        self, after: int, limit: int, event_filter: EventFilter, anchored: bool = False
    ) -> list[RecordedEvent]:
        scoped = dataclasses.replace(event_filter, tenant_id=self._scope(event_filter.tenant_id))
        page = await self._inner._read_all_page(after, limit, scoped, anchored)
        # The anchor row is the caller's own last event: it stays, whatever its type.
        return [
            e for e in page if not is_security_event(e.type) or (anchored and e.position == after)
        ]

    async def subscribe(
        self,
        *,
        after: int | None = None,
        after_event_id: uuid.UUID | None = None,
        types: Iterable[str] | None = None,
        stream_prefix: str | None = None,
        tenant_id: str | None = None,
    ) -> AsyncIterator[RecordedEvent]:
        # Delegated whole: the runtime's store owns the wake-ups that end a wait.
        async for event in self._inner.subscribe(
            after=after,
            after_event_id=after_event_id,
            types=types,
            stream_prefix=stream_prefix,
            tenant_id=self._scope(tenant_id),
        ):
            if not is_security_event(event.type):
                yield event

    async def _read_event(self, event_id: uuid.UUID) -> RecordedEvent | None:
        event = await self._inner.read_event(event_id)
        if event is None or event.tenant_id != self.tenant_id or is_security_event(event.type):
            return None
        return event

    async def _stream_version(self, stream_id: str, tenant_id: str | None) -> int | None:
        return await self._inner.stream_version(stream_id, tenant_id=self._scope(tenant_id))

    async def _head_position(self) -> int:
        return await self._inner.head_position()

    async def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        # Raw SQL cannot be scoped from the outside: read models carry a tenant column
        # and their queries filter on it (the query builder adds it from the principal).
        return await self._inner.fetchall(sql, params)

    async def _load_snapshot(self, stream_id: str, at_or_below: int | None) -> Snapshot | None:
        if await self._inner.stream_version(stream_id, tenant_id=self.tenant_id) is None:
            return None
        return await self._inner.load_snapshot(stream_id, at_or_below=at_or_below)

    async def close(self) -> None:
        """Nothing to do: the runtime owns and closes the underlying store."""


async def _visible(
    events: AsyncIterator[RecordedEvent], limit: int | None
) -> AsyncIterator[RecordedEvent]:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidInput(f"limit must be a non-negative integer, not {limit!r}")
    seen = 0
    try:
        if limit == 0:
            return
        async for event in events:
            if is_security_event(event.type):
                continue
            yield event
            seen += 1
            if limit is not None and seen >= limit:
                return
    finally:
        # Closed explicitly: stopping at the limit must not leave the store's reader open.
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()
