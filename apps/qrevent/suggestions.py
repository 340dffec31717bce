"""Game suggestions on the guest page: "players of Wedding quiz also played this".

QR Event's own ``ParticipantJoined`` events feed Headwater's item-item recommender
(a join is an interaction of the participant with the game), so nothing is recorded
twice. A guest is offered the open games of their event they have not joined yet,
ranked by what guests with similar games joined.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from pydantic import BaseModel

from apps.qrevent.api.deps import Store
from apps.qrevent.api.guest_access import GuestCaller
from apps.qrevent.domain.game import ParticipantJoined
from apps.qrevent.projections.games import GAMES
from apps.qrevent.queries import rows
from headwater import Module, Runtime
from headwater.eventstore import RecordedEvent
from headwater.http import AUTH_ERRORS, Envelope, ok
from headwater.recommendations import Interaction, RecommendationsModule

#: Enough candidates to find the few open games of one event among every event's.
CANDIDATES = 100


def _joined(event: RecordedEvent) -> Interaction:
    return Interaction(event.data["participant_id"], event.data["game_id"], "play", 1.0)


class SuggestedGame(BaseModel):
    game_id: str
    title: str
    reason: str


class Suggestions(BaseModel):
    model: str
    games: list[SuggestedGame]


class GameSuggestions(Module):
    name = "qrevent-suggestions"
    version = "0.1.0"

    def __init__(self) -> None:
        # The recommender's own routes stay off: guests reach only the route below.
        self.engine = RecommendationsModule(sources={ParticipantJoined.event_type: _joined})

    def routers(self) -> Sequence[APIRouter]:
        router = APIRouter(tags=["qrevent: games"], responses=AUTH_ERRORS)
        engine = self.engine

        @router.get(
            "/api/me/suggested-games",
            summary="Games suggested to the guest (item-item recommendations)",
            response_model=Envelope[Suggestions],
        )
        async def suggested_games(guest: GuestCaller, store: Store) -> Envelope[Suggestions]:
            games = await rows(
                store, GAMES, {"tenant_id": guest.tenant_id, "event_id": guest.event_id}
            )
            titles = {g["game_id"]: g["title"] for g in games}
            open_games = {g["game_id"] for g in games if g["status"] == "open"}
            answer = await engine.require_recommender().recommend(
                guest.participant_id, k=CANDIDATES, tenant_id=guest.tenant_id
            )
            suggested = []
            for item in answer.items:
                if item.item_id not in open_games:
                    continue
                source = titles.get(item.because_item_id or "")
                reason = (
                    f"players of {source} also played this" if source else "popular with guests"
                )
                suggested.append(
                    SuggestedGame(game_id=item.item_id, title=titles[item.item_id], reason=reason)
                )
            return ok(Suggestions(model=answer.model, games=suggested))

        return (router,)

    async def start(self, runtime: Runtime) -> None:
        await self.engine.start(runtime)

    async def stop(self, runtime: Runtime) -> None:
        await self.engine.stop(runtime)
