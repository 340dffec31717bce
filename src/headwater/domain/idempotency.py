"""How a command id makes a command idempotent.

The ids of the events a command writes are derived from the command id (uuid5, in
the command id's own namespace, with the tenant mixed in so one tenant can never
hit another's ids). The store's unique event ids are then the guard: a repeat that
decides events again cannot append them (the store refuses the ids, or replays the
original append, which the repository notices by its version). The command's first
event carries, in its metadata, the handler's result, how many events the command
wrote and a fingerprint of the command; whenever a run will not write (its handler
failed, or it conflicted) it looks that event up with ``store.read_event`` and
answers with the first result. So a repeat costs nothing on the happy path, and a
point read on the others.

A command that decides no event writes a :class:`CommandHandled` marker under the
first id, in a stream of its own, so that a repeat still finds a result; as an
identical marker would be replayed silently, a zero-event decision looks for the
first event before writing one.

Two concurrent runs of one command derive the same ids: the store lets only one
append win, and the loser's retry finds the winner's first event.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from typing import Any, Final

import orjson

from headwater.domain._commands import Command, CommandContext
from headwater.domain._events import Event

COMMAND_ID: Final = "command_id"
COMMAND_TYPE: Final = "command_type"
CORRELATION_ID: Final = "correlation_id"
CAUSATION_ID: Final = "causation_id"
ACTOR: Final = "actor"
# Only on a command's first event:
RESULT: Final = "command_result"
EVENT_COUNT: Final = "command_events"
FINGERPRINT: Final = "command_fingerprint"
OUTCOME: Final = "command_outcome"


class CommandHandled(Event, type="headwater.CommandHandled"):
    """A command ran and decided nothing; its result is in this marker's metadata."""

    stream_id: str
    version: int


def event_id(context: CommandContext, index: int) -> uuid.UUID:
    return _derived_id(context.command_id, context.tenant_id, index)


# A command asks for its first id several times (to look for an earlier run, to write,
# to answer); a uuid5 is a SHA-1 and a UUID built in Python, so each is derived once.
@functools.lru_cache(maxsize=4096)
def _derived_id(command_id: uuid.UUID, tenant_id: str | None, index: int) -> uuid.UUID:
    name = f"{index}@{tenant_id}" if tenant_id is not None else str(index)
    return uuid.uuid5(command_id, name)


def event_ids(context: CommandContext, count: int) -> tuple[uuid.UUID, ...]:
    return tuple(event_id(context, index) for index in range(count))


def marker_stream(context: CommandContext) -> str:
    return f"hw.command-{event_id(context, 0)}"


def fingerprint(command: Command[Any]) -> str:
    """Tells a true repeat from another command sent under a reused id."""
    payload = orjson.dumps(
        [command.command_name, command.model_dump(mode="json")], option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(payload).hexdigest()


def event_metadata(context: CommandContext, command: Command[Any]) -> dict[str, Any]:
    """What every event of the command carries."""
    meta: dict[str, Any] = dict(context.metadata)
    meta[COMMAND_ID] = command_id = str(context.command_id)
    meta[COMMAND_TYPE] = command.command_name
    meta[CORRELATION_ID] = context.correlation_id or command_id
    meta[CAUSATION_ID] = command_id
    if context.actor is not None:
        meta[ACTOR] = context.actor
    return meta


def first_event_metadata(
    command: Command[Any], result: Any, count: int, outcome: str = "done"
) -> dict[str, Any]:
    """What only the command's first event carries: enough to answer a repeat."""
    return {RESULT: result, EVENT_COUNT: count, FINGERPRINT: fingerprint(command), OUTCOME: outcome}
