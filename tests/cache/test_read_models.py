"""ReadModels: which tags a cached read carries, and which a command's events drop."""

from __future__ import annotations

import pytest

from headwater.cache import FREQUENT, Cache, ReadModels, read_model_tag, tenant_tag
from headwater.eventstore import RecordedEvent, Statement
from headwater.projections import INTEGER, TEXT, Projection, Table

GAMES = Table("t_games", {"game_id": TEXT, "title": TEXT}, primary_key="game_id")
SCORES = Table("t_scores", {"game_id": TEXT, "points": INTEGER}, primary_key="game_id")
games = Projection("t_games", tables=[GAMES, SCORES])
notes = Projection("t_notes", tables=[Table("t_notes", {"id": TEXT}, primary_key="id")])


@games.on("game.created", "answer.recorded")
def _game(event: RecordedEvent) -> Statement:
    return GAMES.upsert({"game_id": event.data["game_id"], "title": "t"})


pytestmark = pytest.mark.anyio

MODELS = ReadModels([games, notes], {"answer.recorded": frozenset({"t_scores"})})


def test_a_type_drops_its_projections_tables_unless_narrowed() -> None:
    assert MODELS.tables_of(["game.created"]) == {"t_games", "t_scores"}
    assert MODELS.tables_of(["answer.recorded"]) == {"t_scores"}
    assert MODELS.tables_of(["nobody.handles.this"]) == set()


def test_tags_are_per_tenant_and_per_table() -> None:
    assert MODELS.tags("acme", [SCORES, "t_games"]) == [
        tenant_tag("acme", read_model_tag("t_games")),
        tenant_tag("acme", read_model_tag("t_scores")),
    ]


async def test_a_narrowed_type_keeps_the_other_tables_reads_cached() -> None:
    cache, calls = Cache(), []

    async def compute() -> int:
        calls.append(1)
        return len(calls)

    async def read(table: Table) -> int:
        return await MODELS.cached(
            cache, "acme", f"read:{table.name}", compute, policy=FREQUENT, tables=[table]
        )

    assert (await read(GAMES), await read(SCORES)) == (1, 2)
    await MODELS.invalidate(cache, "acme", ["answer.recorded"])
    assert await read(GAMES) == 1  # still cached: an answer does not touch games
    assert await read(SCORES) == 3  # recomputed
    await MODELS.invalidate(cache, "other-tenant", ["game.created"])
    assert await read(GAMES) == 1  # another tenant's change drops nothing here


async def test_without_a_cache_a_read_is_computed_every_time() -> None:
    calls = []

    async def compute() -> int:
        calls.append(1)
        return len(calls)

    for expected in (1, 2):
        got = await MODELS.cached(None, "acme", "k", compute, policy=FREQUENT, tables=[GAMES])
        assert got == expected
