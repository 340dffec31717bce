"""Typed events: stable names, schema versions, upcasting chains, unknown types."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from headwater.domain import (
    Aggregate,
    AggregateId,
    Event,
    EventRegistry,
    EventTypeConflict,
    JsonObject,
    MissingUpcaster,
    RawEvent,
    Repository,
    UnknownEventType,
    default_registry,
    upcaster,
    when,
)
from headwater.eventstore import EventStore, NewEvent, RecordedEvent
from tests.domain.model import UserRegistered

pytestmark = pytest.mark.anyio


class TicketIssued(Event, type="test.TicketIssued", version=2):
    """v1 had no ``seats``: one seat per ticket."""

    holder: str
    seats: int


class GuestInvited(Event, type="test.GuestInvited", version=3):
    """v1: ``{"name"}``; v2 added ``plus_ones``; v3 split ``name`` into two fields."""

    first_name: str
    last_name: str
    plus_ones: int


@upcaster("test.TicketIssued", from_version=1)
def _one_seat(data: JsonObject) -> JsonObject:
    return {**data, "seats": 1}


@upcaster("test.GuestInvited", from_version=1)
def _no_plus_ones(data: JsonObject) -> JsonObject:
    return {**data, "plus_ones": 0}


@upcaster("test.GuestInvited", from_version=2)
def _split_name(data: JsonObject) -> JsonObject:
    first, _, last = data["name"].partition(" ")
    return {"first_name": first, "last_name": last, "plus_ones": data["plus_ones"]}


class InvitationId(AggregateId, prefix="invitation"):
    pass


class Invitation(Aggregate[InvitationId], type_name="test.Invitation"):
    guests: list[str] = []
    seats: int = 0

    @when(GuestInvited)
    def _invited(self, event: GuestInvited) -> None:
        self.guests = [*self.guests, f"{event.first_name} {event.last_name}"]
        self.seats += 1 + event.plus_ones

    @when(TicketIssued)
    def _ticket(self, event: TicketIssued) -> None:
        self.seats += event.seats


def _record(type_name: str, data: dict[str, Any], version: int | None = None) -> RecordedEvent:
    metadata = {} if version is None else {"schema_version": version}
    return RecordedEvent(
        uuid.uuid4(), "s-1", 1, 1, type_name, data, metadata, None, datetime.now(UTC)
    )


def test_an_event_is_stored_under_its_type_name_with_its_schema_version() -> None:
    new = default_registry.encode(TicketIssued(holder="Ada", seats=2), metadata={"actor": "me"})
    assert (new.type, new.data) == ("test.TicketIssued", {"holder": "Ada", "seats": 2})
    assert new.metadata == {"actor": "me", "schema_version": 2}
    assert default_registry.decode(_record(new.type, dict(new.data), 2)) == TicketIssued(
        holder="Ada", seats=2
    )


def test_a_v1_event_is_upcast_to_the_current_shape_on_read() -> None:
    event = default_registry.decode(_record("test.TicketIssued", {"holder": "Ada"}, 1))
    assert event == TicketIssued(holder="Ada", seats=1)


def test_an_event_without_a_schema_version_is_read_as_v1() -> None:
    event = default_registry.decode(_record("test.TicketIssued", {"holder": "Ada"}))
    assert event == TicketIssued(holder="Ada", seats=1)


def test_upcasters_chain_from_any_old_version_to_the_current_one() -> None:
    v1 = default_registry.decode(_record("test.GuestInvited", {"name": "Ada Lovelace"}, 1))
    v2 = default_registry.decode(
        _record("test.GuestInvited", {"name": "Grace Hopper", "plus_ones": 2}, 2)
    )
    assert v1 == GuestInvited(first_name="Ada", last_name="Lovelace", plus_ones=0)
    assert v2 == GuestInvited(first_name="Grace", last_name="Hopper", plus_ones=2)


async def test_an_aggregate_replays_old_stored_shapes_as_current_events(
    store: EventStore, repo: Repository
) -> None:
    invitation_id = InvitationId.new()
    await store.append(
        invitation_id.stream_id,
        [  # as older code wrote them
            NewEvent("test.GuestInvited", {"name": "Ada Lovelace"}),
            NewEvent(
                "test.GuestInvited", {"name": "Alan Turing", "plus_ones": 1}, {"schema_version": 2}
            ),
            NewEvent("test.TicketIssued", {"holder": "Ada"}, {"schema_version": 1}),
        ],
    )
    invitation = await repo.load(Invitation, invitation_id)
    invitation.record(GuestInvited(first_name="Grace", last_name="Hopper", plus_ones=0))
    invitation.record(TicketIssued(holder="Grace", seats=3))
    await repo.save(invitation)

    loaded = await repo.load(Invitation, invitation_id)

    assert loaded.guests == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert loaded.seats == 1 + 2 + 1 + 1 + 3
    stored = [e async for e in store.read_stream(invitation_id.stream_id)]
    assert [e.metadata["schema_version"] for e in stored[3:]] == [3, 2]


def test_an_unknown_type_is_a_clear_error_or_raw_when_asked() -> None:
    record = _record("test.NeverHeardOf", {"x": 1})
    with pytest.raises(UnknownEventType, match=r"test\.NeverHeardOf"):
        default_registry.decode(record)
    raw = default_registry.decode(record, unknown="raw")
    assert isinstance(raw, RawEvent)
    assert (raw.type, raw.data, raw.record) == ("test.NeverHeardOf", {"x": 1}, record)


def test_a_known_type_is_decoded_even_when_raw_is_allowed() -> None:
    record = _record("test.UserRegistered", {"email": "a@x.io", "name": "Ada"})
    assert isinstance(default_registry.decode(record, unknown="raw"), UserRegistered)


def test_an_event_written_by_newer_code_is_refused() -> None:
    with pytest.raises(UnknownEventType, match="newer code"):
        default_registry.decode(_record("test.TicketIssued", {"holder": "A", "seats": 1}, 3))


def test_data_that_does_not_fit_the_class_is_refused() -> None:
    with pytest.raises(UnknownEventType, match="does not fit"):
        default_registry.decode(_record("test.TicketIssued", {"holder": "A"}, 2))


def test_a_gap_in_the_upcaster_chain_is_reported() -> None:
    registry = EventRegistry()
    registry.register(GuestInvited)
    registry.add_upcaster("test.GuestInvited", 1, _no_plus_ones)
    with pytest.raises(MissingUpcaster):
        registry.verify()
    with pytest.raises(MissingUpcaster, match="from v2"):
        registry.decode(_record("test.GuestInvited", {"name": "Ada"}, 1))
    default_registry.verify()  # the real registry is complete


def test_two_classes_cannot_claim_one_type_name() -> None:
    with pytest.raises(EventTypeConflict, match=r"test\.TicketIssued"):

        class Impostor(Event, type="test.TicketIssued"):
            holder: str


def test_an_event_type_needs_a_name_and_a_positive_version() -> None:
    with pytest.raises(TypeError):

        class NoName(Event, type=" "):
            pass

    with pytest.raises(TypeError):

        class BadVersion(Event, type="test.BadVersion", version=0):
            pass


def test_events_are_immutable_and_refuse_unknown_fields() -> None:
    event = TicketIssued(holder="Ada", seats=1)
    with pytest.raises(ValueError, match="frozen"):
        event.seats = 2
    with pytest.raises(ValueError, match="extra"):
        TicketIssued(holder="Ada", seats=1, vip=True)  # type: ignore[call-arg]
