"""Leaderboards: one query with joins (no N+1), a total order, cached, pushed live.

The seed's N+1 fetched each participant's guest or family one by one; here one
statement joins both, reading the rank-ordered index of ``qe_scores``.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel

from apps.qrevent.displays import leaderboard_policy
from apps.qrevent.domain import game as gm
from apps.qrevent.errors import NotInTenant
from headwater import Role
from headwater.cache import REALTIME, Cache
from headwater.eventstore import EventStore, RecordedEvent
from headwater.realtime import TopicProvider, requires

TOP_N: Final = 10
#: The job that recomputes a game's leaderboard after score events.
LEADERBOARD_JOB: Final = "qrevent.leaderboard"

_TOP_SQL: Final = (
    "SELECT s.participant_id, s.kind, s.score, s.answered, s.reached_position, "
    "g.first_name, g.last_name, f.name "
    "FROM qe_scores s "
    "LEFT JOIN qe_guests g ON g.guest_id = s.guest_id "
    "LEFT JOIN qe_families f ON f.family_id = s.family_id "
    "WHERE s.tenant_id = ? AND s.game_id = ? "
    "ORDER BY s.neg_score, s.reached_position "
    "LIMIT ?"
)
_RANK_SQL: Final = (
    "SELECT COUNT(*) FROM qe_scores WHERE tenant_id = ? AND game_id = ? "
    "AND (neg_score < ? OR (neg_score = ? AND reached_position < ?))"
)


class Entry(BaseModel):
    rank: int
    participant_id: str
    kind: str
    name: str
    score: int
    answered: int


class Leaderboard(BaseModel):
    game_id: str
    top: list[Entry]
    me: Entry | None = None


def _display(kind: str, first: str | None, last: str | None, family: str | None) -> str:
    if kind == "family":
        return f"{family or 'Family'} family"
    # First name and initial: enough for a screen at the venue, no more.
    return f"{first or 'Guest'} {(last or ' ')[0]}.".strip()


async def top(store: EventStore, tenant: str, game_id: str, limit: int) -> list[Entry]:
    rows = await store.fetchall(_TOP_SQL, (tenant, game_id, limit))
    return [
        Entry(
            rank=n,
            participant_id=str(r[0]),
            kind=str(r[1]),
            name=_display(str(r[1]), r[5], r[6], r[7]),
            score=int(r[2]),
            answered=int(r[3]),
        )
        for n, r in enumerate(rows, start=1)
    ]


async def rank_of(
    store: EventStore, tenant: str, game_id: str, participant_id: str
) -> Entry | None:
    row = await store.fetchone(
        "SELECT s.kind, s.score, s.answered, s.neg_score, s.reached_position, "
        "g.first_name, g.last_name, f.name FROM qe_scores s "
        "LEFT JOIN qe_guests g ON g.guest_id = s.guest_id "
        "LEFT JOIN qe_families f ON f.family_id = s.family_id "
        "WHERE s.tenant_id = ? AND s.game_id = ? AND s.participant_id = ?",
        (tenant, game_id, participant_id),
    )
    if row is None:
        return None
    ahead = await store.fetchone(_RANK_SQL, (tenant, game_id, row[3], row[3], row[4]))
    return Entry(
        rank=int(ahead[0] if ahead else 0) + 1,
        participant_id=participant_id,
        kind=str(row[0]),
        name=_display(str(row[0]), row[5], row[6], row[7]),
        score=int(row[1]),
        answered=int(row[2]),
    )


def cache_tag(game_id: str) -> str:
    return f"qe-leaderboard:{game_id}"


async def cached_top(
    cache: Cache | None, store: EventStore, tenant: str, game_id: str, limit: int
) -> list[Entry]:
    async def compute() -> list[dict[str, Any]]:
        return [e.model_dump() for e in await top(store, tenant, game_id, limit)]

    if cache is None:
        return await top(store, tenant, game_id, limit)
    rows = await cache.get_or_compute(
        f"qe:leaderboard:{game_id}:{limit}",
        compute,
        policy=REALTIME,
        tags=[cache_tag(game_id)],
        tenant=tenant,
    )
    return [Entry.model_validate(r) for r in rows]


async def cached_board(
    cache: Cache | None, store: EventStore, tenant: str, game_id: str, limit: int
) -> tuple[str, bytes]:
    """The game's event and its board (``{"game_id", "top"}`` as JSON bytes) from one
    cache entry: a hit makes no database read. An unknown game raises inside the
    computation, so a miss is never cached as an empty board."""

    async def compute() -> dict[str, str]:
        row = await store.fetchone(
            "SELECT event_id FROM qe_games WHERE game_id = ? AND tenant_id = ?",
            (game_id, tenant),
        )
        if row is None:
            raise NotInTenant("no such game", game_id=game_id)
        board = Leaderboard(game_id=game_id, top=await top(store, tenant, game_id, limit))
        return {"event_id": str(row[0]), "board": board.model_dump_json(exclude={"me"})}

    if cache is None:
        cached = await compute()
    else:
        cached = await cache.get_or_compute(
            f"qe:board:{game_id}:{limit}",
            compute,
            policy=REALTIME,
            tags=[cache_tag(game_id)],
            tenant=tenant,
        )
    return cached["event_id"], cached["board"].encode()


async def refresh(cache: Cache | None, store: EventStore, tenant: str, game_id: str) -> None:
    """Drop this game's cached boards and compute the screens' top N again."""
    if cache is not None:
        await cache.invalidate_tags(cache_tag(game_id))
    await cached_board(cache, store, tenant, game_id, TOP_N)


def _game_of(event: RecordedEvent) -> str | None:
    value = event.data.get("game_id")
    return value if isinstance(value, str) else None


def topic_provider(store: EventStore, cache: Cache | None) -> TopicProvider:
    """``leaderboard:{game_id}``: the top N, at most twice a second per game."""

    async def fetch(tenant: str | None, game_id: str) -> Any:
        # A score event passed this node's hub: whatever this node cached is older
        # than it (the play may have been posted on another node), so recompute now.
        if cache is not None:
            await cache.invalidate_tags(cache_tag(game_id))
        entries = await cached_top(cache, store, tenant or "", game_id, TOP_N)
        return Leaderboard(game_id=game_id, top=entries).model_dump()

    return TopicProvider(
        kind="leaderboard",
        fetch=fetch,
        triggers=frozenset({gm.AnswerRecorded.event_type, gm.ParticipantJoined.event_type}),
        key_of=_game_of,
        interval=0.5,
        # Users and up, as every topic; and a venue screen's display, for its event's games.
        policy=leaderboard_policy(store, requires(Role.USER)),
    )
