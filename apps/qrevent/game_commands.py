"""Commands of the games: create and open a game, join it, answer a question."""

from __future__ import annotations

from typing import Literal

from apps.qrevent.domain.game import (
    Game,
    GameStatus,
    Participation,
    ParticipationId,
    PlayResult,
    Question,
    Scoring,
)
from apps.qrevent.domain.ids import GameId
from apps.qrevent.errors import NotInTenant
from headwater.domain import Command, CommandBus


class CreateGame(Command[str], name="qrevent.CreateGame"):
    game_id: GameId
    event_id: str
    title: str
    kind: str
    scoring: Scoring
    questions: list[Question]


class ChangeGameStatus(Command[str], name="qrevent.ChangeGameStatus"):
    game_id: GameId
    status: GameStatus


class JoinGame(Command[None], name="qrevent.JoinGame"):
    participation_id: ParticipationId
    game_id: str
    event_id: str
    participant_id: str
    kind: Literal["guest", "family"]


class Play(Command[PlayResult], name="qrevent.Play"):
    """The question travels in the command: the handler sees only the participation."""

    participation_id: ParticipationId
    question: Question
    scoring: Scoring
    choice: int


def register_game_handlers(bus: CommandBus) -> None:
    @bus.handler(CreateGame, Game)
    def create(c: CreateGame, game: Game) -> str:
        game.create(**c.model_dump(exclude={"game_id"}))
        return game.id.value

    @bus.handler(ChangeGameStatus, Game)
    def change_status(c: ChangeGameStatus, game: Game) -> str:
        if not game.exists or game.deleted:
            raise NotInTenant("no such game")
        game.move_to(c.status)
        return game.status

    @bus.handler(JoinGame, Participation)
    def join(c: JoinGame, participation: Participation) -> None:
        participation.join(c.game_id, c.event_id, c.participant_id, c.kind)

    @bus.handler(Play, Participation)
    def play(c: Play, participation: Participation) -> PlayResult:
        if not participation.exists:
            raise NotInTenant("join the game first")
        return participation.answer(c.question, c.scoring, c.choice)
