"""Games (quizzes and challenges) and each participant's play of one game.

A participant is a guest, or a family playing as one team. Each participant's plays
of a game are one stream (``qplay-{game}.{participant}``), so "one answer per
question" is the aggregate's rule, enforced under the store's optimistic
concurrency: two taps on the same answer from two phones record one answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from apps.qrevent.domain.ids import GameId
from apps.qrevent.errors import AlreadyAnswered, InvalidTransition
from headwater.domain import Aggregate, AggregateId, Event, when

GameStatus = Literal["draft", "open", "closed"]
Scoring = Literal["points", "speed"]


class ParticipationId(AggregateId, prefix="qplay"):
    @classmethod
    def of(cls, game_id: str, participant_id: str) -> ParticipationId:
        return cls(f"{game_id}.{participant_id}")


Choice = Annotated[str, Field(min_length=1, max_length=200)]


class Question(BaseModel):
    question_id: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[\w-]+$")]
    text: Annotated[str, Field(min_length=1, max_length=500)]
    choices: Annotated[
        list[Annotated[str, Field(max_length=200)]], Field(min_length=2, max_length=8)
    ]
    answer: Annotated[int, Field(ge=0, le=7)]
    points: Annotated[int, Field(ge=0, le=10_000)] = 100
    time_limit_seconds: Annotated[int, Field(ge=1, le=3_600)] = 30


class GameCreated(Event, type="qrevent.GameCreated"):
    event_id: str
    title: str
    kind: str
    scoring: Scoring
    questions: list[Question]


class GameStatusChanged(Event, type="qrevent.GameStatusChanged"):
    event_id: str
    status: GameStatus


class ParticipantJoined(Event, type="qrevent.ParticipantJoined"):
    game_id: str
    event_id: str
    participant_id: str
    kind: Literal["guest", "family"]
    joined_at: str


class AnswerRecorded(Event, type="qrevent.AnswerRecorded"):
    game_id: str
    event_id: str
    participant_id: str
    kind: Literal["guest", "family"]
    question_id: str
    choice: int
    correct: bool
    late: bool
    points: int
    elapsed_ms: int
    answered_at: str
    #: The participant's totals after this answer: the leaderboard row, ready-made.
    score: int
    answered: int


class GameDeleted(Event, type="qrevent.GameDeleted"):
    """A tombstone: the game and its scores leave the read models."""

    event_id: str


class Game(Aggregate[GameId], type_name="qrevent.Game"):
    event_id: str = ""
    title: str = ""
    kind: str = "quiz"
    scoring: Scoring = "points"
    questions: list[Question] = []
    status: GameStatus = "draft"
    deleted: bool = False

    def delete(self) -> None:
        if not self.deleted:
            self.record(GameDeleted(event_id=self.event_id))

    @when(GameDeleted)
    def _deleted(self, event: GameDeleted) -> None:
        self.deleted = True

    def create(self, **fields: object) -> None:
        if not self.exists:
            self.record(GameCreated.model_validate(fields))

    def move_to(self, status: GameStatus) -> None:
        order = ["draft", "open", "closed"]
        if status == self.status:
            return
        if order.index(status) < order.index(self.status):
            raise InvalidTransition(f"a game cannot go from {self.status} to {status}")
        self.record(GameStatusChanged(event_id=self.event_id, status=status))

    @when(GameCreated)
    def _created(self, event: GameCreated) -> None:
        self.event_id = event.event_id
        self.title = event.title
        self.kind = event.kind
        self.scoring = event.scoring
        self.questions = list(event.questions)

    @when(GameStatusChanged)
    def _status(self, event: GameStatusChanged) -> None:
        self.status = event.status


class PlayResult(BaseModel):
    question_id: str
    correct: bool
    late: bool
    points: int
    score: int
    answered: int


def _now() -> datetime:
    return datetime.now(UTC)


class Participation(Aggregate[ParticipationId], type_name="qrevent.Participation"):
    game_id: str = ""
    event_id: str = ""
    participant_id: str = ""
    kind: Literal["guest", "family"] = "guest"
    joined_at: str = ""
    #: When the clock of the next question started: the join, then each answer.
    clock_from: str = ""
    answers: dict[str, int] = {}
    score: int = 0

    def join(
        self, game_id: str, event_id: str, participant_id: str, kind: Literal["guest", "family"]
    ) -> None:
        if self.exists:
            return  # rejoining after a disconnect resumes where the player was
        at = _now().isoformat()
        self.record(
            ParticipantJoined(
                game_id=game_id,
                event_id=event_id,
                participant_id=participant_id,
                kind=kind,
                joined_at=at,
            )
        )

    def answer(self, question: Question, scoring: Scoring, choice: int) -> PlayResult:
        if question.question_id in self.answers:
            raise AlreadyAnswered(
                "this question is answered already", question_id=question.question_id
            )
        now = _now()
        elapsed = now - datetime.fromisoformat(self.clock_from)
        elapsed_ms = max(0, int(elapsed.total_seconds() * 1000))
        limit_ms = question.time_limit_seconds * 1000
        late = elapsed_ms > limit_ms
        correct = choice == question.answer
        points = 0
        if correct and not late:
            points = question.points
            if scoring == "speed":
                # Half the points for a right answer, the other half for speed.
                points = question.points // 2 + question.points * (limit_ms - elapsed_ms) // (
                    2 * limit_ms
                )
        self.record(
            AnswerRecorded(
                game_id=self.game_id,
                event_id=self.event_id,
                participant_id=self.participant_id,
                kind=self.kind,
                question_id=question.question_id,
                choice=choice,
                correct=correct,
                late=late,
                points=points,
                elapsed_ms=elapsed_ms,
                answered_at=now.isoformat(),
                score=self.score + points,
                answered=len(self.answers) + 1,
            )
        )
        return PlayResult(
            question_id=question.question_id,
            correct=correct,
            late=late,
            points=points,
            score=self.score,
            answered=len(self.answers),
        )

    @when(ParticipantJoined)
    def _joined(self, event: ParticipantJoined) -> None:
        self.game_id = event.game_id
        self.event_id = event.event_id
        self.participant_id = event.participant_id
        self.kind = event.kind
        self.joined_at = event.joined_at
        self.clock_from = event.joined_at

    @when(AnswerRecorded)
    def _answered(self, event: AnswerRecorded) -> None:
        self.answers = {**self.answers, event.question_id: event.choice}
        self.score = event.score
        self.clock_from = event.answered_at
