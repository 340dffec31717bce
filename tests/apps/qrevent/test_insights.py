"""QR Event on experiments and analytics: a question-order test whose conversion is
answering every question of the game, and check-ins and plays counted off the app's
own events, on every backend. Events are the app's own classes, appended as its
commands would, so the hooks read exactly what the app writes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest

from apps.qrevent.domain.game import AnswerRecorded, ParticipantJoined
from apps.qrevent.domain.invitation import GuestsAdmitted
from apps.qrevent.insights import PLAY, SOURCES, question_order_test
from headwater.analytics import Analytics, analytics_projection, declared
from headwater.domain._events import Event
from headwater.eventstore import EventStore, create_event_store
from headwater.eventstore._records import NewEvent
from headwater.experiments import Experiments, compute_results
from headwater.projections import ProjectionRunner

pytestmark = pytest.mark.anyio
TENANT = "venue-1"


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[EventStore]:
    store = await create_event_store(store_url, migrate=True)
    try:
        yield store
    finally:
        await store.close()


async def _append(store: EventStore, stream: str, event: Event) -> None:
    await store.append(
        stream, NewEvent(event.event_type, event.model_dump(mode="json")), tenant_id=TENANT
    )


def _answer(game: str, who: str, n: int) -> AnswerRecorded:
    now = datetime.now(UTC).isoformat()
    return AnswerRecorded(
        game_id=game,
        event_id="ev1",
        participant_id=who,
        kind="guest",
        question_id=f"q{n}",
        choice=0,
        correct=True,
        late=False,
        points=100,
        elapsed_ms=900,
        answered_at=now,
        score=100 * n,
        answered=n,
    )


async def test_question_order_test_converts_participants_who_answer_every_question(
    store: EventStore,
) -> None:
    experiments = Experiments(store)
    await experiments.define(TENANT, question_order_test("quiz-order", "game-1", questions=3))
    await experiments.start(TENANT, "quiz-order")
    completed = {"declared": 0, "shuffled": 0}
    for i in range(40):
        who = f"guest-{i}"
        assignment = await experiments.get_variant(TENANT, "quiz-order", who)
        assert assignment is not None
        assert assignment.payload["question_order"] == assignment.variant
        now = datetime.now(UTC).isoformat()
        joined = ParticipantJoined(
            game_id="game-1", event_id="ev1", participant_id=who, kind="guest", joined_at=now
        )
        await _append(store, f"qplay-{i}", joined)
        answers = 3 if i % 4 else 2  # every fourth participant stops one question short
        for n in range(1, answers + 1):
            await _append(store, f"qplay-{i}", _answer("game-1", who, n))
        if answers == 3:
            completed[assignment.variant] += 1
        # Finishing another game is not this game's conversion.
        await _append(store, f"qplay-other-{i}", _answer("game-2", who, 3))
    results = (await compute_results(store, await experiments.get(TENANT, "quiz-order"))).to_dict()
    variants = results["metrics"]["completed"]["variants"]
    assert {v: variants[v]["conversions"] for v in variants} == completed
    assert sum(results["exposures"].values()) == 40


async def test_check_ins_and_plays_reach_analytics_off_the_apps_events(store: EventStore) -> None:
    decls = declared(funnels=[PLAY])
    now = datetime.now(UTC).isoformat()
    scan = GuestsAdmitted(
        event_id="ev1",
        scan_id="scan-1",
        gate="north",
        device="d1",
        scanned_at=now,
        received_at=now,
        guest_ids=["g1", "g2", "g3"],
        first_time=["g1", "g2", "g3"],
    )
    await _append(store, "qinv-1", scan)
    for who in ("g1", "g2"):
        joined = ParticipantJoined(
            game_id="game-1", event_id="ev1", participant_id=who, kind="guest", joined_at=now
        )
        await _append(store, f"qplay-{who}", joined)
    await _append(store, "qplay-g1", _answer("game-1", "g1", 1))
    async with ProjectionRunner(store, analytics_projection(decls, SOURCES)) as runner:
        await runner.wait_for(await store.head_position())
    today = datetime.now(UTC).date()
    analytics = Analytics(store, decls)
    actions = await analytics.actions(TENANT, today, today)
    assert actions["days"][0]["check-in"] == 3
    assert actions["days"][0]["play"] == 2
    funnel = await analytics.funnel(TENANT, "game-play", date(2000, 1, 1), today)
    assert [s["count"] for s in funnel["steps"]] == [2, 1]
