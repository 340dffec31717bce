"""Review items: writes parked because they conflict on a critical field.

When a write based on an old version changes a field declared critical, and the
current state changed that field too, the write is not merged: a review is opened
(``ConflictEscalated``, in the review's own stream) holding the command, its base
version and each conflicting field's base, mine and theirs. An admin then sends
``AcceptReview`` (the command is applied, critical conflicts won by the parked
write, everything else merged as usual) or ``RejectReview`` (nothing is applied).
Reviews are aggregates like any other, so every decision is an event too.
"""

from __future__ import annotations

import enum
from typing import Any

from headwater.domain._aggregate import Aggregate, when
from headwater.domain._commands import Command
from headwater.domain._events import Event, EventRegistry, default_registry
from headwater.domain._ids import AggregateId
from headwater.errors import ReviewAlreadyDecided, ReviewNotFound
from headwater.eventstore import EventStore


class ReviewId(AggregateId, prefix="hw.review"):
    """Identifies a review; its stream is ``hw.review-<id>``."""


class ReviewStatus(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class ConflictEscalated(Event, type="headwater.ConflictEscalated"):
    """A write was parked for review; everything needed to apply it later is here."""

    aggregate_type: str
    stream_id: str
    aggregate_id: str
    based_on_version: int
    current_version: int
    command_type: str
    command: dict[str, Any]
    command_id: str
    correlation_id: str
    actor: str | None = None
    tenant_id: str | None = None
    #: One entry per conflicting path: ``{"path", "strategy", "base", "mine", "theirs"}``.
    fields: list[dict[str, Any]]


class ReviewAccepted(Event, type="headwater.ReviewAccepted"):
    decided_by: str | None = None
    #: The version of the reviewed aggregate once the parked write was applied.
    applied_version: int


class ReviewRejected(Event, type="headwater.ReviewRejected"):
    decided_by: str | None = None
    reason: str = ""


class AcceptReview(Command[int], name="headwater.AcceptReview"):
    """Apply the parked write; the result is the reviewed aggregate's new version."""

    review_id: ReviewId


class RejectReview(Command[None], name="headwater.RejectReview"):
    review_id: ReviewId
    reason: str = ""


class Review(Aggregate[ReviewId], type_name="headwater.Review"):
    status: ReviewStatus | None = None
    escalation: ConflictEscalated | None = None
    decided_by: str | None = None
    reason: str = ""
    applied_version: int | None = None

    @property
    def paths(self) -> list[str]:
        return [] if self.escalation is None else [f["path"] for f in self.escalation.fields]

    def open(self, escalation: ConflictEscalated) -> None:
        if self.exists:
            raise ReviewAlreadyDecided(self.id.value, str(self.status))
        self.record(escalation)

    def require_open(self) -> ConflictEscalated:
        if self.escalation is None:
            raise ReviewNotFound(self.id.value)
        if self.status is not ReviewStatus.OPEN:
            raise ReviewAlreadyDecided(self.id.value, str(self.status))
        return self.escalation

    def accept(self, decided_by: str | None, applied_version: int) -> None:
        self.require_open()
        self.record(ReviewAccepted(decided_by=decided_by, applied_version=applied_version))

    def reject(self, decided_by: str | None, reason: str) -> None:
        self.require_open()
        self.record(ReviewRejected(decided_by=decided_by, reason=reason))

    @when(ConflictEscalated)
    def _opened(self, event: ConflictEscalated) -> None:
        self.status = ReviewStatus.OPEN
        self.escalation = event

    @when(ReviewAccepted)
    def _accepted(self, event: ReviewAccepted) -> None:
        self.status = ReviewStatus.ACCEPTED
        self.decided_by = event.decided_by
        self.applied_version = event.applied_version

    @when(ReviewRejected)
    def _rejected(self, event: ReviewRejected) -> None:
        self.status = ReviewStatus.REJECTED
        self.decided_by = event.decided_by
        self.reason = event.reason


REVIEW_EVENTS = (ConflictEscalated, ReviewAccepted, ReviewRejected)


async def open_reviews(
    store: EventStore,
    *,
    tenant_id: str | None = None,
    registry: EventRegistry = default_registry,
) -> list[Review]:
    """Every review still open, oldest first.

    A scan of the review events: fine for an admin screen over a modest number of
    escalations; a projection is the tool for more.
    """
    reviews: dict[str, Review] = {}
    async for record in store.read_all(
        types=[e.event_type for e in REVIEW_EVENTS],
        stream_prefix=f"{ReviewId.prefix}-",
        tenant_id=tenant_id,
    ):
        review_id = ReviewId.from_stream_id(record.stream_id)
        review = reviews.setdefault(record.stream_id, Review.blank(review_id))
        review._apply_all([registry.decode(record)])
    return [r for r in reviews.values() if r.status is ReviewStatus.OPEN]
