"""``attach_inline`` and the declared mode: an undeclared projection becomes inline when
attached so; one declared async is refused with the change to make."""

from __future__ import annotations

import pytest

from headwater.errors import InvalidReadModel
from headwater.eventstore import EventStore, NewEvent, RecordedEvent, Statement
from headwater.projections import TEXT, Projection, Table, attach_inline, projection_status

pytestmark = pytest.mark.anyio


def _notes(mode: str | None) -> tuple[Projection, Table]:
    table = Table("rm_notes", {"note_id": TEXT, "body": TEXT}, primary_key="note_id")
    projection = Projection("notes", tables=[table], mode=mode)  # type: ignore[arg-type]

    @projection.on("note.added")
    def _added(event: RecordedEvent) -> Statement:
        return table.upsert({"note_id": event.stream_id, "body": event.data["body"]})

    return projection, table


async def test_undeclared_mode_defaults_to_async_for_runners() -> None:
    projection, _ = _notes(None)
    assert projection.mode == "async"
    assert not projection.mode_declared


async def test_undeclared_projection_attached_inline_runs_inline(store: EventStore) -> None:
    projection, _ = _notes(None)
    await attach_inline(store, [projection])
    assert projection.mode == "inline"
    await store.append("note-1", [NewEvent("note.added", {"body": "hello"})])
    row = await store.fetchone("SELECT body FROM rm_notes WHERE note_id = ?", ("note-1",))
    assert row is not None  # in the read model when the append returned
    assert row[0] == "hello"
    (status,) = await projection_status(store, [projection])
    assert status.mode == "inline"


async def test_projection_declared_async_is_refused_with_the_fix(store: EventStore) -> None:
    projection, _ = _notes("async")
    with pytest.raises(InvalidReadModel) as refused:
        await attach_inline(store, [projection])
    message = refused.value.message
    assert "declared mode='async'" in message
    assert "Projection('notes', mode='inline', ...)" in message
    assert projection.mode == "async"  # nothing was claimed or attached
    await store.append("note-1", [NewEvent("note.added", {"body": "hello"})])


async def test_one_refused_projection_attaches_none_of_the_batch(store: EventStore) -> None:
    undeclared, _ = _notes(None)
    declared = Projection("other", mode="async")
    with pytest.raises(InvalidReadModel):
        await attach_inline(store, [undeclared, declared])
    assert undeclared.mode == "async"  # refused before any was claimed or attached
