"""Commands, the context they run in, and what running one returns.

::

    class InviteGuest(Command[GuestId]):          # the handler returns a GuestId
        guest_id: GuestId
        name: str

    class RenameForm(Command[None]):
        form_id: FormId
        title: str
        based_on_version: int | None = None       # opt in to conflict resolution

The payload (a pydantic model, validated) is kept apart from the context (who, for
which tenant, under which id), so a client can never set its own actor or tenant
through a request body.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from headwater.domain._conflicts import MergeReport

R = TypeVar("R")

#: Derives command ids from client-chosen keys (an HTTP ``Idempotency-Key``, a ``scan_id``).
COMMAND_KEY_NAMESPACE: Final = uuid.UUID("5d0f5e61-3b4e-4f55-9c55-1a1f3b0a7c11")

#: The field a command declares to carry the version its client based it on.
BASED_ON_VERSION: Final = "based_on_version"


class Command(BaseModel, Generic[R]):
    """Base of commands; ``R`` is the handler's result type (``Command[None]`` for none).

    ``class X(Command[R], name="app.X")`` gives a stable name (default: the class
    name), used to find the command again when an escalated change is accepted.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    command_name: ClassVar[str] = "Command"
    result_type: ClassVar[Any] = Any

    def __init_subclass__(cls, *, name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.command_name = name or cls.__name__

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for klass in cls.__mro__:
            generic = getattr(klass, "__pydantic_generic_metadata__", None)
            if generic and generic["origin"] is Command and generic["args"]:
                cls.result_type = generic["args"][0]
                return


_current: contextvars.ContextVar[CommandContext] = contextvars.ContextVar("headwater_command")


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Who sends a command, for which tenant, and under which id.

    ``command_id`` makes the command idempotent: sending it again returns the first
    result and writes nothing. ``correlation_id`` defaults to the command id;
    ``metadata`` is copied onto every event (request id, client ip...).
    """

    command_id: uuid.UUID = field(default_factory=uuid.uuid4)
    correlation_id: str | None = None
    actor: str | None = None
    tenant_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_key(cls, key: str, **options: Any) -> CommandContext:
        """A context whose command id is derived from a client's idempotency key."""
        if not isinstance(key, str) or not key:
            raise ValueError("an idempotency key must be a non-empty string")
        return cls(command_id=uuid.uuid5(COMMAND_KEY_NAMESPACE, key), **options)

    @property
    def correlation(self) -> str:
        return self.correlation_id or str(self.command_id)

    @staticmethod
    def current() -> CommandContext:
        """The context of the command whose handler is running (for actor checks)."""
        try:
            return _current.get()
        except LookupError:
            raise LookupError("no command handler is running") from None

    def activate(self) -> contextvars.Token[CommandContext]:
        return _current.set(self)

    @staticmethod
    def deactivate(token: contextvars.Token[CommandContext]) -> None:
        _current.reset(token)


@dataclass(frozen=True, slots=True)
class CommandResult(Generic[R]):
    """What a command did.

    ``replayed`` is true when the command id had been handled before: ``value`` is
    then the first run's result and nothing was written. ``merge`` tells, for a
    write based on an older version, what the three-way merge did. ``event_types``
    names the events this run appended (in order, beside ``event_ids``; empty for a
    replay), so what follows a command (cache invalidation) needs no read back.
    """

    value: R
    command_id: uuid.UUID
    stream_id: str
    version: int
    event_ids: tuple[uuid.UUID, ...]
    replayed: bool = False
    merge: MergeReport | None = None
    event_types: tuple[str, ...] = ()
