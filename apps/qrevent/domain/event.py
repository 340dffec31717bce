"""The event an organizer runs: draft → published → live → closed, with gates and capacity."""

from __future__ import annotations

from typing import Any, Literal

from apps.qrevent.domain.ids import EventId
from apps.qrevent.errors import InvalidTransition
from headwater.domain import Aggregate, Event, when

Status = Literal["draft", "published", "live", "closed"]

#: The one legal order. Closing is allowed from any earlier state (a cancelled event).
TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    "draft": ("published", "closed"),
    "published": ("live", "closed"),
    "live": ("closed",),
    "closed": (),
}


class EventCreated(Event, type="qrevent.EventCreated"):
    name: str
    venue: str
    starts_at: str
    capacity: int
    gates: list[str]
    undo_window_seconds: int


class EventUpdated(Event, type="qrevent.EventUpdated"):
    """Only the fields that changed."""

    changes: dict[str, Any]


class EventStatusChanged(Event, type="qrevent.EventStatusChanged"):
    status: Status
    previous: Status


class EventDeleted(Event, type="qrevent.EventDeleted"):
    """A tombstone for the event and everything of it: its guests, families,
    invitations, games and check-in rows leave the read models in its transaction."""


class LiveEvent(Aggregate[EventId], type_name="qrevent.Event"):
    name: str = ""
    venue: str = ""
    starts_at: str = ""
    capacity: int = 0
    gates: list[str] = []
    undo_window_seconds: int = 120
    status: Status = "draft"
    deleted: bool = False

    def delete(self) -> None:
        if not self.deleted:
            self.record(EventDeleted())

    @when(EventDeleted)
    def _deleted(self, event: EventDeleted) -> None:
        self.deleted = True

    def create(self, **fields: Any) -> None:
        if not self.exists:
            self.record(EventCreated(**fields))

    def update(self, changes: dict[str, Any]) -> None:
        if self.status == "closed":
            raise InvalidTransition("a closed event cannot be edited", status=self.status)
        changed = {k: v for k, v in changes.items() if v is not None and getattr(self, k) != v}
        if changed:
            self.record(EventUpdated(changes=changed))

    def move_to(self, status: Status) -> None:
        if status == self.status:
            return  # a repeated click is not an error
        if status not in TRANSITIONS[self.status]:
            raise InvalidTransition(
                f"an event cannot go from {self.status} to {status}",
                status=self.status,
                requested=status,
            )
        self.record(EventStatusChanged(status=status, previous=self.status))

    @when(EventCreated)
    def _created(self, event: EventCreated) -> None:
        self.name = event.name
        self.venue = event.venue
        self.starts_at = event.starts_at
        self.capacity = event.capacity
        self.gates = list(event.gates)
        self.undo_window_seconds = event.undo_window_seconds

    @when(EventUpdated)
    def _updated(self, event: EventUpdated) -> None:
        for key, value in event.changes.items():
            setattr(self, key, value)

    @when(EventStatusChanged)
    def _status(self, event: EventStatusChanged) -> None:
        self.status = event.status
