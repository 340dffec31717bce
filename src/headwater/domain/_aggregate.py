"""Aggregates: state that changes only by applying the aggregate's own events.

::

    class User(Aggregate[UserId], conflicts=ConflictPolicy(critical={"email"})):
        email: str = ""

        def change_email(self, email: str) -> None:      # decides
            if email != self.email:
                self.record(EmailChanged(email=email))

        @when(EmailChanged)                                # applies
        def _email_changed(self, event: EmailChanged) -> None:
            self.email = event.email

State fields are pydantic fields, each with a default (the state before the first
event). Assigning one anywhere but inside a ``@when`` method raises, so no code path
can change state that the event log would not reproduce. ``record`` applies the event
at once and keeps it pending until the repository saves it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Generic, Self, TypeVar
from weakref import WeakKeyDictionary

import orjson
from pydantic import BaseModel, ConfigDict, PrivateAttr

from headwater.domain._conflicts import ConflictPolicy, JsonObject
from headwater.domain._events import Event
from headwater.domain._ids import AggregateId
from headwater.errors import AggregateStateError

IdT = TypeVar("IdT", bound=AggregateId)
A = TypeVar("A", bound="Aggregate[Any]")
E = TypeVar("E", bound=Event)

_Applier = Callable[[Any, Any], None]
_WHEN_ATTRIBUTE = "__headwater_when__"

#: Each aggregate class's id type, once looked up (weakly: test classes come and go).
_id_types: WeakKeyDictionary[type[Any], type[AggregateId]] = WeakKeyDictionary()


def when(event_type: type[E]) -> Callable[[Callable[[A, E], None]], Callable[[A, E], None]]:
    """Mark a method as the one that applies ``event_type`` to the aggregate's state."""
    if not (isinstance(event_type, type) and issubclass(event_type, Event)):
        raise TypeError(f"@when needs an Event class, not {event_type!r}")

    def mark(method: Callable[[A, E], None]) -> Callable[[A, E], None]:
        setattr(method, _WHEN_ATTRIBUTE, event_type)
        return method

    return mark


class Aggregate(BaseModel, Generic[IdT]):
    """Base class of aggregates. Class options (all optional)::

    class Form(Aggregate[FormId], type_name="formease.Form", snapshot_every=100,
               snapshot_version=2, conflicts=ConflictPolicy(merge={"fields"})): ...

    ``type_name`` is stable across renames (it names the aggregate in review items
    and snapshot schemas); ``snapshot_every`` is the repository's snapshot policy;
    bump ``snapshot_version`` when ``@when`` methods change meaning without the
    fields changing, so old snapshots are ignored.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    id: IdT

    type_name: ClassVar[str] = "Aggregate"
    snapshot_every: ClassVar[int | None] = None
    snapshot_version: ClassVar[int] = 1
    conflict_policy: ClassVar[ConflictPolicy] = ConflictPolicy()
    _appliers: ClassVar[dict[type[Event], _Applier]] = {}
    _snapshot_schema: ClassVar[str | None] = None

    _version: int = PrivateAttr(0)
    _stored_version: int = PrivateAttr(0)
    _pending: list[Event] = PrivateAttr(default_factory=list)
    _applying: bool = PrivateAttr(False)

    def __init_subclass__(
        cls,
        *,
        type_name: str | None = None,
        snapshot_every: int | None = None,
        snapshot_version: int | None = None,
        conflicts: ConflictPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        cls.type_name = type_name or cls.__name__
        if snapshot_every is not None:
            if isinstance(snapshot_every, bool) or snapshot_every < 1:
                raise TypeError(f"{cls.__name__}: snapshot_every must be a positive integer")
            cls.snapshot_every = snapshot_every
        if snapshot_version is not None:
            cls.snapshot_version = snapshot_version
        if conflicts is not None:
            cls.conflict_policy = conflicts
        cls._snapshot_schema = None
        appliers = dict(cls._appliers)
        for attribute in vars(cls).values():
            event_type = getattr(attribute, _WHEN_ATTRIBUTE, None)
            if event_type is not None:
                appliers[event_type] = attribute
        cls._appliers = appliers

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__pydantic_generic_metadata__["parameters"]:
            return  # still generic (``Aggregate`` itself); nothing to check yet
        required = [n for n, f in cls.model_fields.items() if n != "id" and f.is_required()]
        if required:
            raise TypeError(
                f"{cls.__name__}: state fields need defaults (the state before any "
                f"event): {', '.join(required)}"
            )

    # --- identity and version -------------------------------------------------------

    @classmethod
    def blank(cls, id: IdT) -> Self:
        """The aggregate before its first event (version 0)."""
        return cls(id=id)

    @classmethod
    def id_type(cls) -> type[AggregateId]:
        known = _id_types.get(cls)
        if known is not None:
            return known  # asked on every load: pydantic's model_fields is slow to reach
        annotation = cls.model_fields["id"].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, AggregateId)):
            raise TypeError(f"{cls.__name__} has no AggregateId type: use Aggregate[MyId]")
        _id_types[cls] = annotation
        return annotation

    @property
    def stream_id(self) -> str:
        return self.id.stream_id

    # Private attributes are read from pydantic's private dict directly: ``self._x``
    # falls through to BaseModel.__getattr__, which cost a fifth of a cached command.

    @property
    def version(self) -> int:
        """The version of the last applied event, pending ones included."""
        version: int = self._private["_version"]
        return version

    @property
    def stored_version(self) -> int:
        """The version as last loaded or saved: what a save expects the stream to be at."""
        version: int = self._private["_stored_version"]
        return version

    @property
    def exists(self) -> bool:
        return self.version > 0

    @property
    def pending_events(self) -> tuple[Event, ...]:
        return tuple(self._private["_pending"])

    @property
    def has_pending_events(self) -> bool:
        return bool(self._private["_pending"])

    # --- changing state -------------------------------------------------------------

    def record(self, event: Event) -> None:
        """Apply a new event now, and keep it for the repository to save."""
        self._apply_all((event,))
        self._private["_pending"].append(event)

    def __setattr__(self, name: str, value: Any) -> None:
        if name[0] != "_":
            if not self._private["_applying"]:
                raise AggregateStateError(
                    f"{type(self).__name__}.{name} may only change inside a @when method; "
                    f"record an event instead"
                )
            if name in type(self).__pydantic_fields__:
                # What pydantic's own assignment does without validate_assignment, minus
                # its per-call dispatch: replays assign a lot.
                self.__dict__[name] = value
                self.__pydantic_fields_set__.add(name)
                return
        super().__setattr__(name, value)

    @property
    def _private(self) -> dict[str, Any]:
        private = self.__pydantic_private__
        assert private is not None  # the class declares private attributes
        return private

    def _apply_all(self, events: Iterable[Event]) -> None:
        appliers = self._appliers
        private = self._private
        private["_applying"] = True
        applied = 0
        try:
            for event in events:
                applier = appliers.get(type(event)) or self._applier_for(type(event))
                applier(self, event)
                applied += 1
        finally:
            private["_applying"] = False
            private["_version"] += applied

    @classmethod
    def _applier_for(cls, event_type: type[Event]) -> _Applier:
        for base in event_type.__mro__:
            applier = cls._appliers.get(base)
            if applier is not None:
                return applier
        raise AggregateStateError(f"{cls.__name__} has no @when method for {event_type.__name__}")

    def _mark_saved(self, version: int) -> None:
        private = self._private
        private["_pending"].clear()
        private["_stored_version"] = private["_version"] = version

    def clone(self) -> Self:
        """An independent copy, pending events included, for deciding speculatively."""
        copy = self.model_copy(deep=True)
        copy._private["_pending"] = list(self._private["_pending"])
        return copy

    # --- state as JSON ----------------------------------------------------------------

    def state(self) -> JsonObject:
        """The state as a JSON object (what snapshots store and conflicts compare)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_state(cls, state: JsonObject, version: int) -> Self:
        aggregate = cls.model_validate(state)
        aggregate._mark_saved(version)
        return aggregate

    @classmethod
    def snapshot_schema(cls) -> str:
        """Names the shape of this class's snapshot state; any field change alters it."""
        if cls._snapshot_schema is None:
            schema = _strip_prose(cls.model_json_schema())
            digest = hashlib.sha256(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
            cls._snapshot_schema = (
                f"{cls.type_name}/{cls.snapshot_version}/{digest.hexdigest()[:16]}"
            )
        return cls._snapshot_schema


def _strip_prose(schema: Any) -> Any:
    """A JSON schema without titles and descriptions, which do not change the shape."""
    if isinstance(schema, list):
        return [_strip_prose(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("title", "description"):
            continue
        if key in ("properties", "$defs") and isinstance(value, dict):
            # Maps of names (which may well be "title") to schemas.
            out[key] = {name: _strip_prose(sub) for name, sub in value.items()}
        else:
            out[key] = _strip_prose(value)
    return out
