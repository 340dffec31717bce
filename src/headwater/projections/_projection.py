"""A projection: a name, the tables it owns, and one pure handler per event type.

A handler turns one event into the SQL statements that bring the read model up to
date; it never touches the database itself. That is what makes exactly-once cheap:
whoever runs the handlers (the append's own transaction for an inline projection, a
runner for an async one, a rebuild) commits all statements of a batch together with
the position they reflect, so a crash can never leave one without the other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Literal, TypeAlias, TypeVar

from headwater.errors import InvalidReadModel
from headwater.eventstore._records import RecordedEvent
from headwater.eventstore._sql import Statement
from headwater.projections._columns import MAX_TABLE_NAME, check_identifier
from headwater.projections._readmodels import Table

#: What a handler may return: nothing, one statement, or any number of them.
HandlerResult: TypeAlias = Statement | Iterable[Statement] | None
Handler: TypeAlias = Callable[[RecordedEvent], HandlerResult]
H = TypeVar("H", bound=Handler)

Mode = Literal["async", "inline"]

#: Attribute names under which an event class may carry its stored type name, so that
#: ``@projection.on(UserCreated)`` works with the domain package's typed events.
_TYPE_NAME_ATTRIBUTES: Final = ("type_name", "event_type", "__event_type__")


def event_type_name(event_type: object) -> str:
    """``"user.created"`` as given, or the stored type name an event class declares."""
    if isinstance(event_type, str):
        if not event_type:
            raise InvalidReadModel("an event type name must not be empty")
        return event_type
    for attribute in _TYPE_NAME_ATTRIBUTES:
        value = getattr(event_type, attribute, None)
        if isinstance(value, str) and value:
            return value
    raise InvalidReadModel(
        f"{event_type!r} is neither an event type name nor a class with a `type_name`"
    )


class Projection:
    """Declarative handlers per event type, writing to the tables the projection owns.

    ``mode="inline"`` runs the handlers inside each append's transaction (the read
    model is never behind; a failing handler fails that append); ``"async"`` leaves
    them to a :class:`~headwater.projections.ProjectionRunner`. Left undeclared, the
    mode is ``"async"`` until :func:`~headwater.projections.attach_inline` takes the
    projection, which makes it inline: how it is attached is the declaration.

    Bump ``version`` when handler logic changes: like a changed table declaration, it
    changes :meth:`fingerprint`, which tells the runner the tables need a rebuild.
    """

    def __init__(
        self,
        name: str,
        *,
        tables: Sequence[Table] = (),
        mode: Mode | None = None,
        version: int = 1,
    ) -> None:
        # The name doubles as a checkpoint and shadow-table prefix: same rules as tables.
        self.name = check_identifier(name, "projection name", MAX_TABLE_NAME)
        if mode not in (None, "async", "inline"):
            raise InvalidReadModel(f"mode must be 'async' or 'inline', not {mode!r}")
        self.mode: Mode = mode or "async"
        #: False when ``mode`` was left to the first use (``attach_inline`` or a runner).
        self.mode_declared = mode is not None
        self.version = version
        self.tables: tuple[Table, ...] = tuple(tables)
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            raise InvalidReadModel(f"projection {name!r} lists a table twice: {names}")
        self._handlers: dict[str, Handler] = {}

    def __repr__(self) -> str:
        return f"Projection({self.name!r}, mode={self.mode!r})"

    def on(self, *event_types: Any) -> Callable[[H], H]:
        """Register the decorated function as the handler of these event types."""
        names = [event_type_name(t) for t in event_types]
        if not names:
            raise InvalidReadModel("on() needs at least one event type")

        def register(handler: H) -> H:
            for type_name in names:
                if type_name in self._handlers:
                    raise InvalidReadModel(
                        f"projection {self.name!r} already handles {type_name!r}"
                    )
                self._handlers[type_name] = handler
            return handler

        return register

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(sorted(self._handlers))

    def handles(self, type_name: str) -> bool:
        return type_name in self._handlers

    def apply(self, event: RecordedEvent) -> list[Statement]:
        """The statements for one event (none for a type this projection ignores)."""
        handler = self._handlers.get(event.type)
        if handler is None:
            return []
        result = handler(event)
        if result is None:
            return []
        if isinstance(result, Statement):
            return [result]
        statements = list(result)
        for statement in statements:
            if not isinstance(statement, Statement):
                raise InvalidReadModel(
                    f"handler of {event.type!r} in {self.name!r} returned "
                    f"{type(statement).__name__}, not Statement"
                )
        return statements

    def fingerprint(self) -> str:
        """A digest of the tables' shapes, the handled types and ``version``."""
        digest = hashlib.sha256(f"{self.name}:{self.version}".encode())
        for table in self.tables:
            digest.update(table.fingerprint().encode())
        digest.update(",".join(self.event_types).encode())
        return digest.hexdigest()[:16]
