"""Games and their scores: the leaderboard's one table, indexed in rank order.

Rank order is score descending, then the log position at which the participant
reached that score (earlier first), a total order since positions are unique. The
table stores ``neg_score`` so one ascending index serves that order on both
backends: the top 100 is an index range scan, however many have played.
"""

from __future__ import annotations

from collections.abc import Iterator

from apps.qrevent.domain import game as gm
from apps.qrevent.domain.event import EventDeleted
from apps.qrevent.projections._util import aggregate_id, tenant
from headwater.eventstore import RecordedEvent, Statement
from headwater.projections import INTEGER, JSON, TEXT, Column, Projection, Table

GAMES = Table(
    "qe_games",
    {
        "game_id": TEXT,
        "tenant_id": TEXT,
        "event_id": TEXT,
        "title": TEXT,
        "kind": TEXT,
        "scoring": TEXT,
        "status": TEXT,
        "questions": JSON,
        "position": INTEGER,
    },
    primary_key="game_id",
    indexes=[("tenant_id", "event_id", "position")],
    tenant_column="tenant_id",
)
SCORES = Table(
    "qe_scores",
    {
        "tenant_id": TEXT,
        "game_id": TEXT,
        "participant_id": TEXT,
        "kind": TEXT,
        "guest_id": Column(TEXT, nullable=True),
        "family_id": Column(TEXT, nullable=True),
        "score": Column(INTEGER, default=0),
        "neg_score": Column(INTEGER, default=0),
        "answered": Column(INTEGER, default=0),
        "reached_position": INTEGER,
    },
    primary_key=("tenant_id", "game_id", "participant_id"),
    indexes=[("tenant_id", "game_id", "neg_score", "reached_position")],
    tenant_column="tenant_id",
)

games = Projection("qe_games", tables=[GAMES, SCORES], mode="inline")


@games.on(gm.GameCreated)
def _created(event: RecordedEvent) -> Statement:
    data = event.data
    return GAMES.upsert(
        {
            "game_id": aggregate_id(event),
            "tenant_id": tenant(event),
            "event_id": data["event_id"],
            "title": data["title"],
            "kind": data["kind"],
            "scoring": data["scoring"],
            "status": "draft",
            "questions": data["questions"],
            "position": event.position,
        }
    )


@games.on(gm.GameStatusChanged)
def _status(event: RecordedEvent) -> Statement:
    return GAMES.update({"status": event.data["status"]}, where={"game_id": aggregate_id(event)})


@games.on(gm.ParticipantJoined)
def _joined(event: RecordedEvent) -> Statement:
    data = event.data
    family = data["kind"] == "family"
    return SCORES.upsert(
        {
            "tenant_id": tenant(event),
            "game_id": data["game_id"],
            "participant_id": data["participant_id"],
            "kind": data["kind"],
            "guest_id": None if family else data["participant_id"],
            "family_id": data["participant_id"] if family else None,
            "score": 0,
            "neg_score": 0,
            "answered": 0,
            "reached_position": event.position,
        }
    )


@games.on(gm.AnswerRecorded)
def _answered(event: RecordedEvent) -> Statement:
    data = event.data
    values = {"score": data["score"], "neg_score": -data["score"], "answered": data["answered"]}
    if data["points"] > 0:
        # Only a change of score moves the tie-break: who got there first stays first.
        values["reached_position"] = event.position
    key = {"tenant_id": tenant(event), "game_id": data["game_id"]}
    return SCORES.update(values, where={**key, "participant_id": data["participant_id"]})


@games.on(gm.GameDeleted)
def _game_deleted(event: RecordedEvent) -> Iterator[Statement]:
    key = {"tenant_id": tenant(event), "game_id": aggregate_id(event)}
    yield SCORES.delete(where=key)
    yield GAMES.delete(where=key)


@games.on(EventDeleted)
def _event_games_deleted(event: RecordedEvent) -> Iterator[Statement]:
    # Scores name their game, not the event: the event's games are found by subquery.
    tenant_id, event_id = tenant(event), aggregate_id(event)
    yield Statement(
        f"DELETE FROM {SCORES.ref} WHERE tenant_id = ? AND game_id IN "
        f"(SELECT game_id FROM {GAMES.ref} WHERE tenant_id = ? AND event_id = ?)",
        [tenant_id, tenant_id, event_id],
    )
    yield GAMES.delete(where={"tenant_id": tenant_id, "event_id": event_id})
