"""Inline projections: handlers that run inside each append's own transaction.

The read model is never behind the log: the rows an event implies commit with the
event or not at all. If a handler raises (or its SQL fails), that append fails and
writes nothing; the store's group commit keeps its neighbours unaffected.

Every process that appends must attach the same inline projections (the app
factory does it); an append made without them would not reach the read model.
"""

from __future__ import annotations

from collections.abc import Sequence

from headwater.errors import InvalidReadModel
from headwater.eventstore._protocol import EventStore
from headwater.eventstore._records import RecordedEvent
from headwater.eventstore._sql import Statement
from headwater.projections._checkpoints import register, set_state
from headwater.projections._coalesce import coalesce
from headwater.projections._projection import Projection
from headwater.projections._readmodels import redirect_tables
from headwater.projections.rebuild import rebuild


class InlineHandler:
    """The store's inline handler for a set of inline projections."""

    def __init__(self, projections: Sequence[Projection]) -> None:
        for projection in projections:
            if projection.mode != "inline":
                raise InvalidReadModel(f"{projection!r} is not inline: run it with a runner")
        self.projections = tuple(projections)
        self._targets = [(p, {t.name: t.name for t in p.tables}) for p in self.projections]

    def __call__(self, events: Sequence[RecordedEvent]) -> Sequence[Statement]:
        statements: list[Statement] = []
        for projection, targets in self._targets:
            with redirect_tables(targets):  # only its own tables (see Table.physical_name)
                for event in events:
                    statements.extend(projection.apply(event))
        return coalesce(statements)


class _Attachment:
    """Adds (or takes back) an inline handler; used as the rebuild's swap hook."""

    def __init__(self, store: EventStore, handler: InlineHandler) -> None:
        self.store = store
        self.handler = handler

    def attach(self) -> None:
        self.store.add_inline_handler(self.handler)

    def detach(self) -> None:
        self.store.remove_inline_handler(self.handler)


async def attach_inline(
    store: EventStore, projections: Sequence[Projection], *, rebuild_on_change: bool = True
) -> list[InlineHandler]:
    """Create the projections' tables and hook their handlers into every append.

    A projection whose declaration changed, or that is new while the log already
    holds its events, is rebuilt first; its handler is attached inside the swap
    transaction, while appends are paused, so no event falls between the rebuilt
    tables and the handler. Returns the handlers (``store.remove_inline_handler``
    detaches one). A projection whose mode was left undeclared becomes inline here;
    one declared ``mode="async"`` is refused (with the change to make) before any
    projection is attached.
    """
    for projection in projections:  # refuse before claiming any: all or nothing
        _refuse_declared_async(projection)
    for projection in projections:
        projection.mode = "inline"
    handlers = []
    for projection in projections:
        handler = InlineHandler([projection])
        attachment = _Attachment(store, handler)
        record = await register(store, projection)
        changed = record.fingerprint != projection.fingerprint()
        if changed and not rebuild_on_change:
            raise InvalidReadModel(f"projection {projection.name!r} changed since it was built")
        # Generation 0: never built from the log. Even when the log holds none of its
        # events yet, one could land before the handler is attached: a (cheap) rebuild
        # closes that window, because it attaches the handler with appends paused.
        if changed or record.generation == 0:
            await rebuild(store, projection, on_swap=attachment)
        else:
            attachment.attach()
        await set_state(store, projection.name, "running")
        handlers.append(handler)
    return handlers


def _refuse_declared_async(projection: Projection) -> None:
    """An undeclared projection becomes inline here; one declared async is refused with
    the change to make (the first try of many a user was a bare ``Projection(name)``)."""
    if projection.mode_declared and projection.mode != "inline":
        raise InvalidReadModel(
            f"projection {projection.name!r} is declared mode='async', so attach_inline "
            f"cannot run it: declare it Projection({projection.name!r}, mode='inline', ...) "
            "or drop the mode, or run it with a ProjectionRunner instead"
        )
