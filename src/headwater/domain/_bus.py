"""The command bus: one handler per command type, load-decide-save, made safe.

::

    bus = CommandBus(Repository(store))

    @bus.handler(InviteGuest, Guest)          # Guest is loaded by the command's GuestId field
    def invite(command: InviteGuest, guest: Guest) -> GuestId:
        guest.invite(command.name)
        return guest.id

    result = await bus.send(InviteGuest(guest_id=gid, name="Ada"),
                            CommandContext(actor="u-1", tenant_id="t-1"))

What ``send`` guarantees:

- **Idempotency** by command id (see ``idempotency``): a repeat returns the first
  result and writes nothing, even when both runs race.
- **Metadata** on every event: command id, type, correlation id (the context's, or
  the command id), causation id (the command id), actor; the tenant on the stream.
- **Retries**: on ``ConcurrencyError`` the handler runs again on fresh state, up to
  ``max_attempts`` times, with a short jittered pause.
- **A cache of saved aggregates** (see ``cache``): a command whose aggregate this node
  saved last decides on it without reading the store; the append's expected version
  catches any write made elsewhere since (then the retry reads the store). Outcomes an
  append does not check (an error, deciding nothing, a merge) are only ever reached on
  state read from the store.
- **Conflict resolution** for commands with a ``based_on_version`` field that is
  behind (see ``resolution``): a three-way merge under the aggregate's declared
  ``ConflictPolicy``; critical conflicts open a review (``ChangeEscalated``), other
  unsettled ones raise ``MergeConflict`` with base, mine and theirs.

Handlers decide; they must not have side effects, as they may run more than once.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from pydantic import TypeAdapter

from headwater.domain import idempotency
from headwater.domain._aggregate import Aggregate
from headwater.domain._cache import DEFAULT_MAX_SIZE, AggregateCache
from headwater.domain._commands import (
    BASED_ON_VERSION,
    COMMAND_KEY_NAMESPACE,
    Command,
    CommandContext,
    CommandResult,
)
from headwater.domain._conflicts import MergeReport
from headwater.domain._ids import AggregateId
from headwater.domain._repository import Repository
from headwater.domain._resolution import Decision, decide_on_base
from headwater.domain._review import (
    REVIEW_EVENTS,
    AcceptReview,
    ConflictEscalated,
    RejectReview,
    Review,
    ReviewId,
)
from headwater.domain.idempotency import CommandHandled
from headwater.errors import (
    AggregateVersionNotFound,
    ChangeEscalated,
    CommandIdReused,
    CommandNotRegistered,
    ConcurrencyError,
    DuplicateEventId,
)
from headwater.eventstore import NO_STREAM, RecordedEvent
from headwater.identity._channels import EXCLUDE_AUTHOR

R = TypeVar("R")
T = TypeVar("T")
C = TypeVar("C", bound=Command[Any])
A = TypeVar("A", bound=Aggregate[Any])


@dataclass(frozen=True, slots=True)
class _Route:
    command_type: type[Command[Any]]
    aggregate_type: type[Aggregate[Any]]
    id_field: str
    handler: Callable[[Any, Any], Any]
    result: TypeAdapter[Any]
    versioned: bool


class CommandBus:
    """Runs commands; ``cache_size=0`` turns the aggregate cache off."""

    def __init__(
        self,
        repository: Repository,
        *,
        max_attempts: int = 8,
        backoff_seconds: float = 0.002,
        cache_size: int = DEFAULT_MAX_SIZE,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.repository = repository
        self.store = repository.store
        # With personal fields sealed, opened state must not outlive the command that
        # read it: an erased subject's data would stay in memory (as for snapshots).
        self.cache = (
            AggregateCache(cache_size) if cache_size and repository.cipher is None else None
        )
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._routes: dict[type[Command[Any]], _Route] = {}
        self._by_name: dict[str, _Route] = {}
        for event_type in (CommandHandled, *REVIEW_EVENTS):
            if event_type.event_type not in repository.registry:
                repository.registry.register(event_type)
        self.register(AcceptReview, Review, self._accept_review)
        self.register(RejectReview, Review, _reject_review)

    # --- registration -------------------------------------------------------------------

    def handler(
        self, command_type: type[C], aggregate_type: type[A], *, id_field: str | None = None
    ) -> Callable[[Callable[[C, A], T]], Callable[[C, A], T]]:
        """Decorator: ``handler(command, aggregate)`` decides for ``command_type``.

        The aggregate is the one named by the command's field of the aggregate's id
        type (or ``id_field``). The handler may be sync or async; its return value
        must fit the command's result type and is what repeats return.
        """

        def decorate(handler: Callable[[C, A], T]) -> Callable[[C, A], T]:
            self.register(command_type, aggregate_type, handler, id_field=id_field)
            return handler

        return decorate

    def register(
        self,
        command_type: type[C],
        aggregate_type: type[A],
        handler: Callable[[C, A], Any],
        *,
        id_field: str | None = None,
    ) -> None:
        name = command_type.command_name
        if command_type in self._routes or name in self._by_name:
            raise ValueError(f"command {name!r} already has a handler")
        fields = command_type.model_fields
        id_type = aggregate_type.id_type()
        if id_field is None:
            candidates = [n for n, f in fields.items() if f.annotation is id_type]
            if len(candidates) != 1:
                raise TypeError(
                    f"{command_type.__name__} needs exactly one {id_type.__name__} field "
                    f"(found {candidates}); or pass id_field="
                )
            id_field = candidates[0]
        elif fields.get(id_field) is None or fields[id_field].annotation is not id_type:
            raise TypeError(f"{command_type.__name__}.{id_field} is not a {id_type.__name__}")
        route = _Route(
            command_type,
            aggregate_type,
            id_field,
            handler,
            TypeAdapter(command_type.result_type),
            BASED_ON_VERSION in fields,
        )
        self._routes[command_type] = route
        self._by_name[name] = route

    def command_type(self, name: str) -> type[Command[Any]]:
        """The registered command class named ``name`` (to validate raw payloads)."""
        try:
            return self._by_name[name].command_type
        except KeyError:
            raise CommandNotRegistered(f"no handler for command {name!r}") from None

    # --- sending ------------------------------------------------------------------------

    async def send(
        self, command: Command[R], context: CommandContext | None = None
    ) -> CommandResult[R]:
        route = self._routes.get(type(command))
        if route is None:
            raise CommandNotRegistered(f"no handler for command {type(command).__name__}")
        result = await self._execute(route, command, context or CommandContext())
        return cast(CommandResult[R], result)

    async def _execute(
        self,
        route: _Route,
        command: Command[Any],
        context: CommandContext,
        *,
        accept_escalated: bool = False,
    ) -> CommandResult[Any]:
        first_id = idempotency.event_id(context, 0)
        aggregate_id: AggregateId = getattr(command, route.id_field)
        based_on: int | None = getattr(command, BASED_ON_VERSION) if route.versioned else None
        error: Exception | None = None
        for attempt in range(self.max_attempts):
            if attempt:
                if attempt > 1:
                    await asyncio.sleep(random.uniform(0, self.backoff_seconds * 2**attempt))
                prior = await self.store.read_event(first_id)
                if prior is not None:  # a twin won the race, or this is a repeat
                    return self._replay(route, command, context, prior)
            # A retry always reads the store: the cached state is what just conflicted.
            decision = (
                None
                if attempt
                else await self._decide_cached(route, command, context, aggregate_id, based_on)
            )
            if decision is None:
                current = await self.repository.load(
                    route.aggregate_type, aggregate_id, tenant_id=context.tenant_id
                )
                token = context.activate()
                try:
                    decision = await self._decide(
                        route, command, context, current, based_on, accept_escalated
                    )
                except Exception:
                    # A repeat may fail on the state its first run left ("already
                    # registered"): it must get the first result, not the error.
                    prior = await self.store.read_event(first_id)
                    if prior is not None:
                        return self._replay(route, command, context, prior)
                    raise
                finally:
                    CommandContext.deactivate(token)
                if not decision.escalate and not decision.aggregate.has_pending_events:
                    # The one write a repeat could make without the store noticing: an
                    # identical marker reads as an idempotent no-op, whatever the result.
                    prior = await self.store.read_event(first_id)
                    if prior is not None:
                        return self._replay(route, command, context, prior)
            try:
                result = await self._commit(route, command, context, decision, based_on)
            except (ConcurrencyError, DuplicateEventId) as exc:
                error = exc  # someone else wrote first: decide again on fresh state
                continue
            if self.cache is not None:
                # Committed: the aggregate is the stream's state at result.version, and
                # nothing else holds it (the handler's contract: no side effects).
                self.cache.put(decision.aggregate, context.tenant_id)
            return result
        assert error is not None
        raise error

    async def _decide_cached(
        self,
        route: _Route,
        command: Command[Any],
        context: CommandContext,
        aggregate_id: AggregateId,
        based_on: int | None,
    ) -> Decision | None:
        """Decide on the cached aggregate, or None to decide on the stored state.

        Only a decision that appends is taken from cached state, because only the
        append's expected version proves that state current. An error, a decision to
        write nothing, and a write based on another version (a merge or a review) are
        left to the stored state; the cached aggregate, perhaps half-changed by the
        handler, is dropped.
        """
        if self.cache is None:
            return None
        cached = self.cache.take(route.aggregate_type, aggregate_id.stream_id, context.tenant_id)
        if cached is None or based_on not in (None, cached.version):
            return None
        token = context.activate()
        try:
            value = await _call(route, command, cached)
        except Exception:
            return None  # perhaps only the cached state's fault: the stored state decides
        finally:
            CommandContext.deactivate(token)
        if not cached.has_pending_events:
            return None
        return Decision(cached, value)

    # --- deciding -----------------------------------------------------------------------

    async def _decide(
        self,
        route: _Route,
        command: Command[Any],
        context: CommandContext,
        current: Aggregate[Any],
        based_on: int | None,
        accept_escalated: bool,
    ) -> Decision:
        if based_on is None or based_on == current.version:
            return Decision(current, await _call(route, command, current))
        if based_on > current.version:
            raise AggregateVersionNotFound(current.stream_id, based_on, current.version)
        base = await self.repository.load(
            route.aggregate_type, current.id, version=based_on, tenant_id=context.tenant_id
        )
        return await decide_on_base(
            lambda aggregate: _call(route, command, aggregate),
            base,
            current,
            accept_escalated=accept_escalated,
        )

    # --- writing ------------------------------------------------------------------------

    async def _commit(
        self,
        route: _Route,
        command: Command[Any],
        context: CommandContext,
        decision: Decision,
        based_on: int | None,
    ) -> CommandResult[Any]:
        meta = idempotency.event_metadata(context, command)
        aggregate = decision.aggregate
        if decision.escalate:
            assert decision.merge is not None
            assert based_on is not None
            await self._open_review(
                route, command, context, decision.merge, aggregate, based_on, meta
            )
        value = route.result.validate_python(decision.value)
        count = len(aggregate.pending_events)
        first = idempotency.first_event_metadata(
            command, route.result.dump_python(value, mode="json"), count
        )
        ids = idempotency.event_ids(context, count)
        # Named before the save, which clears the pending events.
        types = tuple(type(event).event_type for event in aggregate.pending_events)
        if count:
            await self.repository.save(
                aggregate,
                metadata=meta,
                first_metadata=first,
                event_ids=ids,
                tenant_id=context.tenant_id,
            )
        else:
            marker = CommandHandled(stream_id=aggregate.stream_id, version=aggregate.version)
            await self.store.append(
                idempotency.marker_stream(context),
                self.repository.registry.encode(
                    marker, metadata={**meta, **first}, id=idempotency.event_id(context, 0)
                ),
                expected_version=NO_STREAM,
                tenant_id=context.tenant_id,
            )
        return CommandResult(
            value,
            context.command_id,
            aggregate.stream_id,
            aggregate.version,
            ids,
            merge=decision.merge,
            event_types=types or (CommandHandled.event_type,),
        )

    async def _open_review(
        self,
        route: _Route,
        command: Command[Any],
        context: CommandContext,
        report: MergeReport,
        current: Aggregate[Any],
        based_on: int,
        meta: dict[str, Any],
    ) -> None:
        review = Review.blank(ReviewId(idempotency.event_id(context, 0)))
        review.open(
            ConflictEscalated(
                aggregate_type=route.aggregate_type.type_name,
                stream_id=current.stream_id,
                aggregate_id=current.id.value,
                based_on_version=based_on,
                current_version=current.version,
                command_type=command.command_name,
                command=command.model_dump(mode="json"),
                command_id=str(context.command_id),
                correlation_id=context.correlation,
                actor=context.actor,
                tenant_id=context.tenant_id,
                fields=[c.to_dict() for c in report.escalated],
            )
        )
        # The review queue is shared state: every admin sees a review open, its author's
        # own screens too, whatever the parked command said about skipping its author.
        shared = {key: value for key, value in meta.items() if key != EXCLUDE_AUTHOR}
        await self.repository.save(
            review,
            metadata=shared,
            first_metadata=idempotency.first_event_metadata(command, None, 1, "escalated"),
            event_ids=idempotency.event_ids(context, 1),
            tenant_id=context.tenant_id,
        )
        raise ChangeEscalated(review.id.value, current.stream_id, review.paths)

    def _replay(
        self,
        route: _Route,
        command: Command[Any],
        context: CommandContext,
        prior: RecordedEvent,
    ) -> CommandResult[Any]:
        meta = prior.metadata
        if (
            meta.get(idempotency.FINGERPRINT) != idempotency.fingerprint(command)
            or prior.tenant_id != context.tenant_id
        ):
            raise CommandIdReused(context.command_id)
        event = self.repository.registry.decode(prior)
        if isinstance(event, ConflictEscalated):
            paths = [f["path"] for f in event.fields]
            review_id = ReviewId.from_stream_id(prior.stream_id)
            raise ChangeEscalated(review_id.value, event.stream_id, paths)
        value = route.result.validate_python(meta.get(idempotency.RESULT))
        count = int(meta[idempotency.EVENT_COUNT])
        if isinstance(event, CommandHandled):
            stream_id, version = event.stream_id, event.version
        else:
            stream_id, version = prior.stream_id, prior.version + count - 1
        ids = idempotency.event_ids(context, count)
        return CommandResult(value, context.command_id, stream_id, version, ids, replayed=True)

    # --- reviews ------------------------------------------------------------------------

    async def _accept_review(self, command: AcceptReview, review: Review) -> int:
        admin = CommandContext.current()
        escalation = review.require_open()
        route = self._by_name.get(escalation.command_type)
        if route is None:
            raise CommandNotRegistered(f"no handler for command {escalation.command_type!r}")
        original = route.command_type.model_validate(escalation.command)
        # Derived from the review, so the parked write applies once however many times,
        # and by however many admins, it is accepted.
        applied = await self._execute(
            route,
            original,
            CommandContext(
                command_id=uuid.uuid5(COMMAND_KEY_NAMESPACE, f"review-accepted:{review.id}"),
                correlation_id=escalation.correlation_id,
                actor=escalation.actor,
                tenant_id=escalation.tenant_id,
                metadata={"review_id": review.id.value, "approved_by": admin.actor},
            ),
            accept_escalated=True,
        )
        review.accept(admin.actor, applied.version)
        return applied.version


def _reject_review(command: RejectReview, review: Review) -> None:
    review.reject(CommandContext.current().actor, command.reason)


async def _call(route: _Route, command: Command[Any], aggregate: Aggregate[Any]) -> Any:
    value = route.handler(command, aggregate)
    if inspect.isawaitable(value):
        value = await value
    return value
