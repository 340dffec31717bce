"""Loading and saving aggregates: latest snapshot plus newer events, in, and pending events, out.

::

    repo = Repository(store)
    user = await repo.load(User, user_id)                 # now
    then = await repo.load(User, user_id, version=3)      # as of version 3
    then = await repo.load(User, user_id, as_of=moment)   # as of a time (events' recorded_at)
    user.change_email("a@b.c")
    await repo.save(user)                                 # expects the version it loaded

Snapshots are a cache, never the truth: one is taken when a save crosses a multiple
of the class's ``snapshot_every``; on load one is used only if its schema is the
class's current :meth:`Aggregate.snapshot_schema` and its tenant matches, otherwise
the events are replayed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from headwater.domain._aggregate import Aggregate
from headwater.domain._events import EventRegistry, default_registry
from headwater.domain._ids import AggregateId
from headwater.domain._personal import SubjectCipher
from headwater.errors import (
    AggregateVersionNotFound,
    ConcurrencyError,
    HeadwaterError,
    InvalidInput,
    StreamNotFound,
)
from headwater.eventstore import NO_STREAM, AppendResult, EventStore, NewEvent, Snapshot

log = logging.getLogger(__name__)

A = TypeVar("A", bound=Aggregate[Any])


class Repository:
    """Aggregates in an event store. ``snapshots=False`` always replays in full."""

    def __init__(
        self,
        store: EventStore,
        *,
        registry: EventRegistry = default_registry,
        snapshots: bool = True,
        cipher: SubjectCipher | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        # A snapshot holds an aggregate's state in plain text, outside the reach of
        # erasure by key deletion; with personal data sealed, state is always replayed.
        self.snapshots = snapshots and cipher is None
        #: Seals declared personal fields before they reach the log (None: stored as given).
        self.cipher = cipher

    # --- loading ----------------------------------------------------------------------

    async def load(
        self,
        cls: type[A],
        id: AggregateId,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
        tenant_id: str | None = None,
    ) -> A:
        """The aggregate now, as of ``version``, or as of the time ``as_of``.

        An aggregate with no events comes back blank (``exists`` is false). Asking
        for a version past the stream's head raises ``AggregateVersionNotFound``.
        """
        _check_id(cls, id)
        if version is not None and as_of is not None:
            raise InvalidInput("pass version or as_of, not both")
        if version is not None and (isinstance(version, bool) or version < 0):
            raise InvalidInput(f"version must be a non-negative integer, not {version!r}")
        if as_of is not None:
            version = await self.version_at(cls, id, as_of, tenant_id=tenant_id)
        if version == 0:
            return cls.blank(id)
        aggregate = await self._from_snapshot(cls, id, version, tenant_id) or cls.blank(id)
        if version is not None and aggregate.version == version:
            return aggregate
        limit = None if version is None else version - aggregate.version
        records = self.store.read_stream(
            id.stream_id, from_version=aggregate.version + 1, limit=limit, tenant_id=tenant_id
        )
        decode = self.registry.decode
        loaded = [record async for record in records]
        if self.cipher is not None:
            loaded = await self.cipher.open(loaded)
        aggregate._apply_all([decode(record) for record in loaded])
        aggregate._mark_saved(aggregate.version)
        if version is not None and aggregate.version < version:
            raise AggregateVersionNotFound(id.stream_id, version, aggregate.version)
        return aggregate

    async def require(self, cls: type[A], id: AggregateId, *, tenant_id: str | None = None) -> A:
        """Like :meth:`load`, but an aggregate without events raises ``StreamNotFound``."""
        aggregate = await self.load(cls, id, tenant_id=tenant_id)
        if not aggregate.exists:
            raise StreamNotFound(id.stream_id)
        return aggregate

    async def version_at(
        self,
        cls: type[Aggregate[Any]],
        id: AggregateId,
        as_of: datetime,
        *,
        tenant_id: str | None = None,
    ) -> int:
        """The version of the newest event recorded at or before ``as_of`` (0 if none)."""
        _check_id(cls, id)
        if not isinstance(as_of, datetime) or as_of.tzinfo is None:
            raise InvalidInput("as_of must be a timezone-aware datetime")
        # Backwards from the head: time travel is mostly to the recent past, and within a
        # stream recorded_at never decreases (each append commits after the previous).
        async for record in self.store.read_stream(
            id.stream_id, backwards=True, tenant_id=tenant_id
        ):
            if record.recorded_at <= as_of:
                return record.version
        return 0

    async def _from_snapshot(
        self, cls: type[A], id: AggregateId, version: int | None, tenant_id: str | None
    ) -> A | None:
        if not self.snapshots or cls.snapshot_every is None:
            return None
        snapshot = await self.store.load_snapshot(id.stream_id, at_or_below=version)
        if snapshot is None or snapshot.schema != cls.snapshot_schema():
            return None
        envelope = snapshot.state
        # Snapshots are keyed by stream alone; the tenant inside keeps one tenant from
        # reading another's state through a snapshot when the events would be hidden.
        if tenant_id is not None and envelope.get("tenant_id") != tenant_id:
            return None
        try:
            return cls.from_state(envelope["state"], snapshot.version)
        except (KeyError, ValidationError):
            log.warning("ignoring unreadable snapshot of %s v%s", id.stream_id, snapshot.version)
            return None

    # --- saving -----------------------------------------------------------------------

    async def save(
        self,
        aggregate: Aggregate[Any],
        *,
        metadata: Mapping[str, Any] | None = None,
        first_metadata: Mapping[str, Any] | None = None,
        event_ids: Sequence[uuid.UUID] | None = None,
        tenant_id: str | None = None,
    ) -> AppendResult | None:
        """Append the pending events, expecting the stream at ``aggregate.stored_version``.

        ``metadata`` goes on every event, ``first_metadata`` on the first one too;
        ``event_ids`` (one per pending event) make the append idempotent. Returns
        ``None`` when nothing was pending. Raises ``ConcurrencyError`` if someone
        else appended first; the aggregate is then unchanged and may be reloaded.
        """
        pending = aggregate.pending_events
        if not pending:
            return None
        if event_ids is not None and len(event_ids) != len(pending):
            raise InvalidInput(f"{len(pending)} pending events but {len(event_ids)} ids")
        common = dict(metadata or {})
        encoded: list[NewEvent] = []
        for index, event in enumerate(pending):
            meta = {**common, **(first_metadata or {})} if index == 0 else common
            event_id = None if event_ids is None else event_ids[index]
            encoded.append(self.registry.encode(event, metadata=meta, id=event_id))
        if self.cipher is not None:
            encoded = await self.cipher.seal(
                encoded, stream_id=aggregate.stream_id, tenant_id=tenant_id
            )
        stored = aggregate.stored_version
        result = await self.store.append(
            aggregate.stream_id,
            encoded,
            expected_version=stored if stored else NO_STREAM,
            tenant_id=tenant_id,
        )
        if result.version != stored + len(pending):
            # The store replayed an earlier append of these very event ids, made against
            # another version: this aggregate does not show what is stored.
            raise ConcurrencyError(aggregate.stream_id, stored, result.version)
        aggregate._mark_saved(result.version)
        if self.snapshots and type(aggregate).snapshot_every is not None:
            await self._maybe_snapshot(aggregate, stored, tenant_id)
        return result

    async def _maybe_snapshot(
        self, aggregate: Aggregate[Any], before: int, tenant_id: str | None
    ) -> None:
        every = type(aggregate).snapshot_every
        if not self.snapshots or every is None or aggregate.version // every == before // every:
            return
        snapshot = Snapshot(
            aggregate.stream_id,
            aggregate.version,
            {"tenant_id": tenant_id, "state": aggregate.state()},
            type(aggregate).snapshot_schema(),
        )
        try:
            await self.store.save_snapshot(snapshot)
        except HeadwaterError as exc:
            # The events are committed; a missing snapshot only costs a longer replay.
            log.warning("snapshot of %s v%s failed: %s", snapshot.stream_id, snapshot.version, exc)


def _check_id(cls: type[Aggregate[Any]], id: AggregateId) -> None:
    if type(id) is not cls.id_type():
        raise InvalidInput(f"{cls.__name__} is identified by {cls.id_type().__name__}, not {id!r}")
