"""Escalated conflicts: a review item, then an admin's accept or reject, by command."""

from __future__ import annotations

import asyncio

import pytest

from headwater.domain import (
    AcceptReview,
    ChangeEscalated,
    CommandBus,
    CommandContext,
    RejectReview,
    Repository,
    Review,
    ReviewAlreadyDecided,
    ReviewId,
    ReviewNotFound,
    ReviewStatus,
    open_reviews,
)
from headwater.eventstore import EventStore
from tests.domain.model import RegisterUser, UpdateUser, User, UserId

pytestmark = pytest.mark.anyio


def _admin() -> CommandContext:
    return CommandContext(actor="admin", tenant_id="t1")


async def _escalated(bus: CommandBus) -> tuple[UserId, ChangeEscalated]:
    """Bob changes the email; Alice, from the same base, changes it too, and her bio."""
    user_id = UserId.new()
    tenant = CommandContext(tenant_id="t1")
    await bus.send(RegisterUser(user_id=user_id, email="ada@x.io", name="Ada"), tenant)
    bob = CommandContext(actor="bob", tenant_id="t1")
    await bus.send(UpdateUser(user_id=user_id, based_on_version=1, email="bob@x.io"), bob)
    alice = CommandContext(actor="alice", tenant_id="t1", correlation_id="req-7")
    with pytest.raises(ChangeEscalated) as excinfo:
        await bus.send(
            UpdateUser(user_id=user_id, based_on_version=1, email="alice@x.io", bio="Hi"), alice
        )
    return user_id, excinfo.value


async def test_a_critical_conflict_opens_a_review_and_changes_nothing(
    bus: CommandBus, repo: Repository, store: EventStore
) -> None:
    user_id, escalated = await _escalated(bus)

    user = await repo.load(User, user_id)
    assert (user.email, user.bio, user.version) == ("bob@x.io", "", 2)
    assert (escalated.stream_id, escalated.fields) == (user_id.stream_id, ("email",))
    (review,) = await open_reviews(store, tenant_id="t1")
    assert review.id == ReviewId(escalated.review_id)
    assert review.escalation is not None
    assert review.escalation.actor == "alice"
    assert review.escalation.fields == [
        {
            "path": "email",
            "strategy": "escalate",
            "base": "ada@x.io",
            "mine": "alice@x.io",
            "theirs": "bob@x.io",
        }
    ]
    assert await open_reviews(store, tenant_id="t2") == []


async def test_repeating_an_escalated_command_points_to_the_same_review(
    bus: CommandBus, store: EventStore
) -> None:
    user_id = UserId.new()
    await bus.send(RegisterUser(user_id=user_id, email="ada@x.io", name="Ada"))
    await bus.send(UpdateUser(user_id=user_id, based_on_version=1, role="admin"))
    context = CommandContext()
    command = UpdateUser(user_id=user_id, based_on_version=1, role="owner")
    reviews = []
    for _ in range(2):
        with pytest.raises(ChangeEscalated) as excinfo:
            await bus.send(command, context)
        reviews.append(excinfo.value.review_id)
    assert reviews[0] == reviews[1]
    assert len(await open_reviews(store)) == 1


async def test_accepting_a_review_applies_the_parked_change(
    bus: CommandBus, repo: Repository, store: EventStore
) -> None:
    user_id, escalated = await _escalated(bus)

    result = await bus.send(AcceptReview(review_id=ReviewId(escalated.review_id)), _admin())

    user = await repo.load(User, user_id)
    assert (user.email, user.bio, user.version) == ("alice@x.io", "Hi", 3)
    assert result.value == 3
    applied = [e async for e in store.read_stream(user_id.stream_id)][-1]
    assert applied.metadata["actor"] == "alice"
    assert applied.metadata["correlation_id"] == "req-7"
    assert applied.metadata["approved_by"] == "admin"
    assert applied.metadata["review_id"] == escalated.review_id
    review = await repo.load(Review, ReviewId(escalated.review_id))
    assert (review.status, review.decided_by, review.applied_version) == (
        ReviewStatus.ACCEPTED,
        "admin",
        3,
    )
    assert await open_reviews(store) == []


async def test_rejecting_a_review_applies_nothing(
    bus: CommandBus, repo: Repository, store: EventStore
) -> None:
    user_id, escalated = await _escalated(bus)
    review_id = ReviewId(escalated.review_id)

    await bus.send(RejectReview(review_id=review_id, reason="spoofed"), _admin())

    user = await repo.load(User, user_id)
    assert (user.email, user.bio, user.version) == ("bob@x.io", "", 2)
    review = await repo.load(Review, review_id)
    assert (review.status, review.decided_by, review.reason) == (
        ReviewStatus.REJECTED,
        "admin",
        "spoofed",
    )
    assert await open_reviews(store) == []
    with pytest.raises(ReviewAlreadyDecided):
        await bus.send(AcceptReview(review_id=review_id), _admin())


async def test_a_review_is_decided_once(bus: CommandBus, repo: Repository) -> None:
    user_id, escalated = await _escalated(bus)
    accept = AcceptReview(review_id=ReviewId(escalated.review_id))
    context = CommandContext(actor="admin", tenant_id="t1")

    first = await bus.send(accept, context)
    again = await bus.send(accept, context)  # the same command, retried: its first result

    assert again.replayed
    assert again.value == first.value
    with pytest.raises(ReviewAlreadyDecided):
        await bus.send(accept, CommandContext(actor="other-admin", tenant_id="t1"))
    assert (await repo.load(User, user_id)).version == 3


async def test_two_admins_accepting_at_once_apply_the_change_once(
    bus: CommandBus, repo: Repository
) -> None:
    user_id, escalated = await _escalated(bus)
    accept = AcceptReview(review_id=ReviewId(escalated.review_id))

    outcomes = await asyncio.gather(
        bus.send(accept, CommandContext(actor="admin-1", tenant_id="t1")),
        bus.send(accept, CommandContext(actor="admin-2", tenant_id="t1")),
        return_exceptions=True,
    )

    assert sorted(type(o).__name__ for o in outcomes) == ["CommandResult", "ReviewAlreadyDecided"]
    user = await repo.load(User, user_id)
    assert (user.email, user.version) == ("alice@x.io", 3)


async def test_an_unknown_review_cannot_be_decided(bus: CommandBus) -> None:
    with pytest.raises(ReviewNotFound):
        await bus.send(AcceptReview(review_id=ReviewId.new()), _admin())
    with pytest.raises(ReviewNotFound):
        await bus.send(RejectReview(review_id=ReviewId.new()), _admin())
