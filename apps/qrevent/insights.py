"""QR Event on Headwater's experiments and analytics, without touching its commands.

Serve with ``--app apps.qrevent.insights:experiments --app apps.qrevent.insights:analytics``.
Check-ins (each admitted guest), plays (a participant joining a game) and answers reach
analytics through a projection off the log (``SOURCES``). :func:`question_order_test`
tests a game's question order: the game screen asks
``POST /experiments/<key>/assignments`` with the participant id as subject and orders the
questions as the variant's payload says; answering every question is the conversion.
"""

from __future__ import annotations

from typing import Final

from headwater.analytics import EventSource, Funnel, Retention, declared
from headwater.experiments import ExperimentSpec, Metric, Variant
from headwater.insights import AnalyticsModule, ExperimentsModule

SOURCES: Final = (
    EventSource("qrevent.GuestsAdmitted", "check-in", subject_field="guest_ids"),
    EventSource("qrevent.ParticipantJoined", "play", subject_field="participant_id"),
    EventSource("qrevent.AnswerRecorded", "answer", subject_field="participant_id"),
)
PLAY: Final = Funnel(id="game-play", steps=["play", "answer"], window_hours=6)


def question_order_test(key: str, game_id: str, questions: int) -> ExperimentSpec:
    """Questions in the declared order or shuffled; conversion = answering all of them
    (an answer of this game whose running ``answered`` count reaches ``questions``)."""
    return ExperimentSpec(
        key=key,
        description="QR Event: does the question order change how many finish the game",
        variants=[
            Variant(key="declared", payload={"question_order": "declared"}),
            Variant(key="shuffled", payload={"question_order": "shuffled"}),
        ],
        metrics=[
            Metric(
                name="completed",
                event_type="qrevent.AnswerRecorded",
                subject_field="participant_id",
                window_hours=6,
                where={"game_id": game_id},
                at_least={"answered": float(questions)},
            )
        ],
    )


experiments = ExperimentsModule()
analytics = AnalyticsModule(
    declared(
        funnels=[PLAY], retention=[Retention(id="daily-plays", period="day", start_events=["play"])]
    ),
    sources=SOURCES,
    experiments=experiments,
)
