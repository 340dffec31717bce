"""Aggregates: state changes only by applying their own events, dispatched by type."""

from __future__ import annotations

import pytest

from headwater.domain import Aggregate, AggregateStateError, Event
from tests.domain.model import (
    Guest,
    GuestCheckedIn,
    GuestId,
    User,
    UserId,
    UserRegistered,
    UserUpdated,
)


class Unrelated(Event, type="test.Unrelated"):
    pass


class VipCheckedIn(GuestCheckedIn, type="test.VipCheckedIn"):
    lounge: str


def test_recording_an_event_applies_it_and_keeps_it_pending() -> None:
    user = User.blank(UserId.new())
    user.register("a@x.io", "Ada")
    user.update(city="Paris", name="Ada")  # the name did not change: not in the event

    assert (user.email, user.name, user.city, user.version) == ("a@x.io", "Ada", "Paris", 2)
    assert user.pending_events == (
        UserRegistered(email="a@x.io", name="Ada"),
        UserUpdated(changes={"city": "Paris"}),
    )
    assert user.stored_version == 0


def test_state_cannot_be_assigned_outside_a_when_method() -> None:
    user = User.blank(UserId.new())
    with pytest.raises(AggregateStateError, match="record an event"):
        user.email = "sneaky@x.io"
    assert user.email == ""
    assert user.version == 0


def test_an_event_the_aggregate_has_no_when_method_for_is_refused() -> None:
    user = User.blank(UserId.new())
    with pytest.raises(AggregateStateError, match="Unrelated"):
        user.record(Unrelated())
    assert user.pending_events == ()
    assert user.version == 0


def test_an_event_subclass_is_applied_by_its_parents_when_method() -> None:
    guest = Guest.blank(GuestId.new())
    guest.record(VipCheckedIn(gate="vip", lounge="blue"))
    assert (guest.check_ins, guest.gates) == (1, ["vip"])


def test_state_fields_need_defaults() -> None:
    with pytest.raises(TypeError, match="defaults"):

        class Broken(Aggregate[UserId]):
            email: str


def test_a_clone_decides_independently() -> None:
    guest = Guest.blank(GuestId.new())
    guest.record(GuestCheckedIn(gate="a"))
    clone = guest.clone()
    clone.record(GuestCheckedIn(gate="b"))
    assert (guest.gates, guest.version, len(guest.pending_events)) == (["a"], 1, 1)
    assert (clone.gates, clone.version, len(clone.pending_events)) == (["a", "b"], 2, 2)


def test_state_round_trips_through_json() -> None:
    user = User.blank(UserId.new())
    user.register("a@x.io", "Ada")
    restored = User.from_state(user.state(), user.version)
    assert restored.state() == user.state()
    assert restored.id == user.id
    assert isinstance(restored.id, UserId)
    assert restored.version == restored.stored_version == 1


def test_the_snapshot_schema_changes_with_the_fields_not_the_docs() -> None:
    class V1(Aggregate[UserId], type_name="test.V"):
        """One doc."""

        title: str = ""

    class V1Redocumented(Aggregate[UserId], type_name="test.V"):
        """Another doc."""

        title: str = ""

    class V2(Aggregate[UserId], type_name="test.V"):
        title: int = 0

    class V1Bumped(Aggregate[UserId], type_name="test.V", snapshot_version=2):
        title: str = ""

    assert V1.snapshot_schema() == V1Redocumented.snapshot_schema()
    assert V1.snapshot_schema() != V2.snapshot_schema()
    assert V1.snapshot_schema() != V1Bumped.snapshot_schema()
