"""Typed events: pydantic models under a stable type name and a schema version.

::

    class GuestInvited(Event, type="qrevent.GuestInvited", version=2):
        name: str
        plus_ones: int

    @upcaster("qrevent.GuestInvited", from_version=1)
    def _add_plus_ones(data: JsonObject) -> JsonObject:
        return {**data, "plus_ones": 0}

The type name, not the class name, is what is stored, so classes may be renamed and
moved freely. Old stored shapes are upcast on read, one registered step at a time,
so code only ever sees the current class. The schema version travels in the event's
metadata (``schema_version``; absent means 1).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal, TypeAlias, overload

from pydantic import BaseModel, ConfigDict, ValidationError

from headwater.domain._personal import SEALED_KEY, strip_sealed
from headwater.errors import EventTypeConflict, MissingUpcaster, UnknownEventType
from headwater.eventstore import NewEvent, RecordedEvent
from headwater.identity._trace import stamp

JsonObject: TypeAlias = dict[str, Any]
Upcaster: TypeAlias = Callable[[JsonObject], JsonObject]

#: The metadata key that records which shape of its type an event's data has.
SCHEMA_VERSION_KEY: Final = "schema_version"


class Event(BaseModel):
    """Base of every domain event. Subclasses with ``type=`` register themselves.

    A subclass without ``type=`` is an abstract grouping (``class GuestEvent(Event)``).
    Events are immutable, and refuse unknown fields: an upcaster must produce the
    current shape exactly.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1

    def __init_subclass__(cls, *, type: str | None = None, version: int = 1, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if type is None:
            return
        if not isinstance(type, str) or not type.strip() or len(type) > 255:
            raise TypeError(f"{cls.__name__}: event type must be a non-empty name")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise TypeError(f"{cls.__name__}: event version must be a positive integer")
        cls.event_type = type
        cls.event_version = version

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        # Registered here, once pydantic has finished building the class.
        super().__pydantic_init_subclass__(**kwargs)
        if kwargs.get("type") is not None:
            default_registry.register(cls)


@dataclass(frozen=True, slots=True)
class RawEvent:
    """A stored event passed through undecoded, for consumers that asked for it."""

    record: RecordedEvent

    @property
    def type(self) -> str:
        return self.record.type

    @property
    def data(self) -> JsonObject:
        return self.record.data


def schema_version_of(record: RecordedEvent) -> int:
    version = record.metadata.get(SCHEMA_VERSION_KEY, 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise UnknownEventType(record.type, 0, f"bad schema version {version!r} in metadata")
    return version


class EventRegistry:
    """Event classes by type name, and the upcasters between their schema versions."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Event]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    # --- registration -------------------------------------------------------------

    def register(self, cls: type[Event]) -> type[Event]:
        type_name = getattr(cls, "event_type", None)
        if type_name is None:
            raise TypeError(f"{cls.__name__} has no event type: class X(Event, type=...)")
        known = self._classes.get(type_name)
        # The same class defined again (a re-imported module, a class in a test function)
        # replaces itself; a different class claiming the name is a bug.
        if known is not None and _qualified(known) != _qualified(cls):
            raise EventTypeConflict(
                f"event type {type_name!r} is claimed by {_qualified(known)} and {_qualified(cls)}"
            )
        self._classes[type_name] = cls
        return cls

    def add_upcaster(self, type_name: str, from_version: int, upcast: Upcaster) -> None:
        """Register how ``type_name`` data of ``from_version`` becomes ``from_version + 1``."""
        if isinstance(from_version, bool) or not isinstance(from_version, int) or from_version < 1:
            raise TypeError("from_version must be a positive integer")
        key = (type_name, from_version)
        known = self._upcasters.get(key)
        if known is not None and _qualified(known) != _qualified(upcast):
            raise EventTypeConflict(f"two upcasters for {type_name!r} v{from_version}")
        self._upcasters[key] = upcast

    def upcaster(self, type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator form of :meth:`add_upcaster`."""

        def decorate(upcast: Upcaster) -> Upcaster:
            self.add_upcaster(type_name, from_version, upcast)
            return upcast

        return decorate

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._classes

    def event_class(self, type_name: str) -> type[Event]:
        try:
            return self._classes[type_name]
        except KeyError:
            raise UnknownEventType(type_name, 0, "no event class is registered") from None

    def verify(self) -> None:
        """Raise if any registered class lacks a step of its upcaster chain."""
        for type_name, cls in self._classes.items():
            for version in range(1, cls.event_version):
                if (type_name, version) not in self._upcasters:
                    raise MissingUpcaster(type_name, version, f"no upcaster to v{version + 1}")

    # --- encoding -----------------------------------------------------------------

    def encode(
        self,
        event: Event,
        *,
        metadata: Mapping[str, Any] | None = None,
        id: uuid.UUID | None = None,
    ) -> NewEvent:
        cls = type(event)
        if self._classes.get(cls.event_type) is not cls:
            raise UnknownEventType(cls.event_type, cls.event_version, "not in this registry")
        # The trace of the work in progress (a request, a job), so an event can be
        # followed back to what caused it and on to the jobs and deliveries it causes.
        meta = stamp(dict(metadata or {}))
        meta[SCHEMA_VERSION_KEY] = cls.event_version
        data = event.model_dump(mode="json")
        if id is None:
            return NewEvent(cls.event_type, data, meta)
        return NewEvent(cls.event_type, data, meta, id)

    # --- decoding -----------------------------------------------------------------

    def upcast(self, type_name: str, version: int, data: JsonObject) -> JsonObject:
        """``data`` stored as ``version`` of ``type_name``, in the current shape."""
        current = self.event_class(type_name).event_version
        if version > current:
            raise UnknownEventType(
                type_name, version, f"written by newer code (this code reads up to v{current})"
            )
        for step in range(version, current):
            upcast = self._upcasters.get((type_name, step))
            if upcast is None:
                raise MissingUpcaster(type_name, version, f"no upcaster from v{step}")
            data = upcast(data)
        return data

    @overload
    def decode(self, record: RecordedEvent, *, unknown: Literal["raise"] = ...) -> Event: ...

    @overload
    def decode(self, record: RecordedEvent, *, unknown: Literal["raw"]) -> Event | RawEvent: ...

    def decode(
        self, record: RecordedEvent, *, unknown: Literal["raise", "raw"] = "raise"
    ) -> Event | RawEvent:
        """The current-shape event for a stored record.

        An unregistered type raises :class:`UnknownEventType`, or, with
        ``unknown="raw"``, comes back as a :class:`RawEvent`. A registered type that
        cannot be upcast or validated always raises: that is a bug, not a stranger.
        """
        cls = self._classes.get(record.type)
        if cls is None:
            if unknown == "raw":
                return RawEvent(record)
            raise UnknownEventType(record.type, schema_version_of(record), "no event class")
        version = record.metadata.get(SCHEMA_VERSION_KEY, 1)
        if type(version) is not int or version < 1:  # bool is refused too, as it should be
            version = schema_version_of(record)
        data = record.data
        if SEALED_KEY in data:
            # Still sealed (nobody opened it, or the key is gone): the fields hold their
            # declared replacement values, which is exactly what such a reader must see.
            data = strip_sealed(data)
        if version != cls.event_version:
            data = self.upcast(record.type, version, data)
        try:
            # Validated in full, as at the API edge: stored data outlives the code that
            # wrote it, and pydantic-core's validation is a few percent of a replay (the
            # row decoding below it is most of it). The validator is called directly;
            # model_validate adds a Python frame per event.
            return cls.__pydantic_validator__.validate_python(data)  # type: ignore[no-any-return]
        except ValidationError as exc:
            raise UnknownEventType(
                record.type, version, f"data does not fit {cls.__name__}: {exc}"
            ) from exc


def _qualified(obj: Callable[..., Any] | type) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


#: Where ``class X(Event, type=...)`` registers; pass another registry to isolate.
default_registry: Final = EventRegistry()

#: ``@upcaster("type", from_version=1)`` on the default registry.
upcaster: Final = default_registry.upcaster
