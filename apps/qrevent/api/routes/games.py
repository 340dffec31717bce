"""Games: organizers create and open them; guests join, answer, and watch the leaderboard."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from apps.qrevent.api.deps import IdempotencyKey, Services, Store, context, load_event
from apps.qrevent.api.guest_access import Guest, GuestCaller, LeaderboardViewer
from apps.qrevent.caching import cached
from apps.qrevent.domain.game import (
    GameStatus,
    Participation,
    ParticipationId,
    PlayResult,
    Question,
    Scoring,
)
from apps.qrevent.domain.ids import GameId
from apps.qrevent.errors import AlreadyAnswered, DisplayOnly, InvalidTransition, NotInTenant
from apps.qrevent.game_commands import ChangeGameStatus, CreateGame, JoinGame, Play
from apps.qrevent.leaderboard import Entry, Leaderboard, cache_tag, cached_board, rank_of
from apps.qrevent.projections.directory import EVENTS
from apps.qrevent.projections.games import GAMES
from apps.qrevent.queries import one, rows
from headwater.cache import STATIC
from headwater.domain import CommandContext, CommandIdReused
from headwater.errors import InvalidInput
from headwater.http import AUTH_ERRORS, NOT_FOUND, AppRuntime, Envelope, Meta, Staff, ok

router = APIRouter(prefix="/api", tags=["qrevent: games"], responses=AUTH_ERRORS)


class GameIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["quiz", "challenge"] = "quiz"
    scoring: Scoring = "points"
    questions: Annotated[list[Question], Field(min_length=1, max_length=100)]


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: GameStatus


class PublicQuestion(BaseModel):
    """A question as players see it: no answer."""

    question_id: str
    text: str
    choices: list[str]
    points: int
    time_limit_seconds: int


class GameView(BaseModel):
    game_id: str
    event_id: str
    title: str
    kind: str
    scoring: str
    status: str
    questions: list[PublicQuestion]


class PlayerState(BaseModel):
    game: GameView
    answered: list[str]
    next_question: PublicQuestion | None
    me: Entry | None


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question_id: Annotated[str, Field(min_length=1, max_length=40)]
    choice: Annotated[int, Field(ge=0, le=7)]


class PlayView(BaseModel):
    result: PlayResult
    me: Entry | None
    next_question: PublicQuestion | None


class GuestHome(BaseModel):
    invitation_id: str
    event_id: str
    event_name: str
    kind: str
    games: list[GameView]


def game_view(row: dict[str, Any]) -> GameView:
    questions = [PublicQuestion.model_validate(q) for q in row["questions"]]
    fields = {k: row[k] for k in GameView.model_fields if k != "questions"}
    return GameView(**fields, questions=questions)


async def load_game(store: Store, tenant: str, game_id: str) -> dict[str, Any]:
    row = await one(store, GAMES, {"game_id": game_id, "tenant_id": tenant})
    if row is None:
        raise NotInTenant("no such game", game_id=game_id)
    return row


@router.post(
    "/events/{event_id}/games",
    summary="Create a quiz game for an event",
    status_code=201,
    response_model=Envelope[GameView],
    responses=NOT_FOUND,
)
async def create_game(
    event_id: str,
    body: GameIn,
    staff: Staff,
    services: Services,
    store: Store,
    key: IdempotencyKey = None,
) -> Envelope[GameView]:
    tenant = staff.require_tenant()
    await load_event(store, tenant, event_id)
    ids = [q.question_id for q in body.questions]
    if len(set(ids)) != len(ids):
        raise InvalidInput("question ids must be unique within a game")
    if any(q.answer >= len(q.choices) for q in body.questions):
        raise InvalidInput("a question's answer must be the index of one of its choices")
    ctx = context(staff, key)
    game_id = GameId(ctx.command_id) if key else GameId.new()
    await services.bus.send(
        CreateGame(game_id=game_id, event_id=event_id, **body.model_dump()), ctx
    )
    return ok(game_view(await load_game(store, tenant, game_id.value)))


@router.get(
    "/events/{event_id}/games",
    summary="List an event's games",
    response_model=Envelope[list[GameView]],
    responses=NOT_FOUND,
)
async def list_games(event_id: str, staff: Staff, store: Store) -> Envelope[list[GameView]]:
    tenant = staff.require_tenant()
    await load_event(store, tenant, event_id)
    found = await rows(store, GAMES, {"tenant_id": tenant, "event_id": event_id})
    return ok([game_view(r) for r in found])


@router.get(
    "/games/{game_id}",
    summary="One game and its questions",
    response_model=Envelope[GameView],
    responses=NOT_FOUND,
)
async def get_game(
    game_id: str, staff: Staff, store: Store, runtime: AppRuntime
) -> Envelope[GameView]:
    tenant = staff.require_tenant()
    row = await cached(
        runtime.cache,
        tenant,
        f"qe:game:{game_id}",
        lambda: load_game(store, tenant, game_id),
        policy=STATIC,
        tables=[GAMES],
    )
    return ok(game_view(row))


@router.post(
    "/games/{game_id}/status",
    summary="Open, close or finish a game",
    response_model=Envelope[GameView],
    responses=NOT_FOUND,
)
async def change_game_status(
    game_id: str, body: StatusIn, staff: Staff, services: Services, store: Store
) -> Envelope[GameView]:
    tenant = staff.require_tenant()
    await load_game(store, tenant, game_id)
    await services.bus.send(
        ChangeGameStatus(game_id=GameId(game_id), status=body.status), context(staff)
    )
    return ok(game_view(await load_game(store, tenant, game_id)))


@router.get(
    "/me",
    summary="The guest's home: their invitation, event, games and rank",
    responses={429: {"description": "Too many requests from this guest: retry after Retry-After"}},
    response_model=Envelope[GuestHome],
)
async def guest_home(guest: GuestCaller, store: Store) -> Envelope[GuestHome]:
    """The guest page's data: the invitation's event and the games open to play."""
    event = await one(store, EVENTS, {"event_id": guest.event_id, "tenant_id": guest.tenant_id})
    found = await rows(
        store, GAMES, {"tenant_id": guest.tenant_id, "event_id": guest.event_id, "status": "open"}
    )
    return ok(
        GuestHome(
            invitation_id=guest.invitation_id,
            event_id=guest.event_id,
            event_name=event["name"] if event else "",
            kind=guest.kind,
            games=[game_view(r) for r in found],
        )
    )


async def _open_game(store: Store, guest: Guest, game_id: str) -> dict[str, Any]:
    game = await load_game(store, guest.tenant_id, game_id)
    if game["event_id"] != guest.event_id:
        raise NotInTenant("no such game", game_id=game_id)
    if game["status"] != "open":
        raise InvalidTransition("this game is not open", status=game["status"])
    return game


def _next(game: dict[str, Any], done: set[str]) -> PublicQuestion | None:
    for question in game["questions"]:
        if question["question_id"] not in done:
            return PublicQuestion.model_validate(question)
    return None


async def _done(services: Services, guest: Guest, game_id: str) -> set[str]:
    participation = await services.repository.load(
        Participation,
        ParticipationId.of(game_id, guest.participant_id),
        tenant_id=guest.tenant_id,
    )
    return set(participation.answers)


@router.post(
    "/games/{game_id}/join",
    summary="Join a game as the invited guest or family",
    response_model=Envelope[PlayerState],
    responses={
        **NOT_FOUND,
        429: {"description": "Too many requests from this guest: retry after Retry-After"},
    },
)
async def join_game(
    game_id: str, guest: GuestCaller, services: Services, store: Store
) -> Envelope[PlayerState]:
    """Join, or rejoin after a disconnect: the state comes back where it was left."""
    game = await _open_game(store, guest, game_id)
    command = JoinGame(
        participation_id=ParticipationId.of(game_id, guest.participant_id),
        game_id=game_id,
        event_id=guest.event_id,
        participant_id=guest.participant_id,
        kind=guest.kind,
    )
    # One join per participant, however many phones of the family tap "join".
    ctx = context_for_guest(guest, f"join:{game_id}:{guest.participant_id}")
    await services.bus.send(command, ctx)
    done = await _done(services, guest, game_id)
    return ok(
        PlayerState(
            game=game_view(game),
            answered=sorted(done),
            next_question=_next(game, done),
            me=await rank_of(store, guest.tenant_id, game_id, guest.participant_id),
        )
    )


@router.post(
    "/games/{game_id}/play",
    summary="Answer one question of a game",
    response_model=Envelope[PlayView],
    responses={
        **NOT_FOUND,
        429: {"description": "Too many requests from this guest: retry after Retry-After"},
    },
)
async def play(
    game_id: str,
    body: AnswerIn,
    guest: GuestCaller,
    services: Services,
    store: Store,
    runtime: AppRuntime,
) -> Envelope[PlayView]:
    game = await _open_game(store, guest, game_id)
    question = next((q for q in game["questions"] if q["question_id"] == body.question_id), None)
    if question is None:
        raise InvalidInput("no such question in this game", question_id=body.question_id)
    command = Play(
        participation_id=ParticipationId.of(game_id, guest.participant_id),
        question=Question.model_validate(question),
        scoring=game["scoring"],
        choice=body.choice,
    )
    # Keyed by question: a retried or doubled answer returns the first result.
    ctx = context_for_guest(guest, f"play:{game_id}:{guest.participant_id}:{body.question_id}")
    try:
        result = await services.bus.send(command, ctx)
    except CommandIdReused:
        # The same question, answered before with another choice.
        raise AlreadyAnswered(
            "this question is answered already", question_id=body.question_id
        ) from None
    cache = runtime.cache
    if cache is not None:
        await cache.invalidate_tags(cache_tag(game_id))
    done = await _done(services, guest, game_id)
    return ok(
        PlayView(
            result=result.value,
            me=await rank_of(store, guest.tenant_id, game_id, guest.participant_id),
            next_question=_next(game, done),
        )
    )


@router.get(
    "/games/{game_id}/leaderboard",
    summary="A game's leaderboard",
    response_model=Envelope[Leaderboard],
    responses={
        **NOT_FOUND,
        429: {"description": "Too many requests from this guest: retry after Retry-After"},
    },
)
async def leaderboard(
    game_id: str,
    viewer: LeaderboardViewer,
    store: Store,
    runtime: AppRuntime,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> Response:
    """The top N (cached, REALTIME) and, for a guest, their own rank.

    The venue screens' hot path: the board is cached as JSON and framed in the
    envelope as bytes, so a cache hit costs no query and no model validation.
    """
    event_id, board = await cached_board(runtime.cache, store, viewer.tenant_id, game_id, limit)
    if viewer.display_event is not None and event_id != viewer.display_event:
        raise DisplayOnly("this display shows its own event's leaderboards only")
    if viewer.guest is not None and event_id != viewer.guest.event_id:
        raise NotInTenant("no such game", game_id=game_id)
    if viewer.guest is not None:
        me = await rank_of(store, viewer.tenant_id, game_id, viewer.guest.participant_id)
        if me is not None:
            board = board[:-1] + b',"me":' + me.model_dump_json().encode() + b"}"
    meta = Meta().model_dump_json(by_alias=True).encode()
    body = b'{"success":true,"data":' + board + b',"meta":' + meta + b"}"
    return Response(body, media_type="application/json")


def context_for_guest(guest: Guest, key: str) -> CommandContext:
    return CommandContext.from_key(
        f"qrevent:{guest.tenant_id}:{key}",
        actor=f"invitation:{guest.invitation_id}",
        tenant_id=guest.tenant_id,
        metadata={"actor": f"invitation:{guest.invitation_id}", "actor_kind": "invitation"},
    )
