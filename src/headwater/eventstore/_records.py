"""The values that go into and come out of an event store."""

from __future__ import annotations

import enum
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypeAlias

from headwater.errors import (
    InvalidEventData,
    InvalidExpectedVersion,
    InvalidStreamId,
)

JsonObject: TypeAlias = dict[str, Any]

_CONTROL_CHARS: Final = re.compile(r"[\x00-\x1f\x7f]")

MAX_STREAM_ID_LENGTH: Final = 255
MAX_TYPE_LENGTH: Final = 255


class StreamState(enum.Enum):
    """Expected versions that name a state of the stream rather than a number."""

    ANY = "any"
    NO_STREAM = "no_stream"
    STREAM_EXISTS = "stream_exists"

    def __str__(self) -> str:
        return self.name


ANY: Final = StreamState.ANY
NO_STREAM: Final = StreamState.NO_STREAM
STREAM_EXISTS: Final = StreamState.STREAM_EXISTS

#: What ``append(..., expected_version=...)`` accepts: a state, or the version
#: of the stream's last event (versions start at 1; 0 means "no events yet").
ExpectedVersion: TypeAlias = StreamState | int


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. ``id`` makes retries idempotent; it defaults to a new UUID."""

    type: str
    data: Mapping[str, Any]
    metadata: Mapping[str, Any] | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as the store holds it. ``position`` orders the whole store."""

    id: uuid.UUID
    stream_id: str
    version: int
    position: int
    type: str
    data: JsonObject
    metadata: JsonObject
    tenant_id: str | None
    recorded_at: datetime


def _slot_setters() -> tuple[Any, ...]:
    names = (
        "id",
        "stream_id",
        "version",
        "position",
        "type",
        "data",
        "metadata",
        "tenant_id",
        "recorded_at",
    )
    return tuple(RecordedEvent.__dict__[name].__set__ for name in names)


(
    _set_id,
    _set_stream_id,
    _set_version,
    _set_position,
    _set_type,
    _set_data,
    _set_metadata,
    _set_tenant_id,
    _set_recorded_at,
) = _slot_setters()
_new = object.__new__


def make_recorded_event(
    id: uuid.UUID,
    stream_id: str,
    version: int,
    position: int,
    type: str,
    data: JsonObject,
    metadata: JsonObject,
    tenant_id: str | None,
    recorded_at: datetime,
) -> RecordedEvent:
    """Build a RecordedEvent for a backend's read path, twice as fast as the constructor.

    A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` per field,
    which was the largest cost of decoding a page of events. Setting the slots
    directly gives the same frozen object; backends use this on trusted rows only.
    """
    event: RecordedEvent = _new(RecordedEvent)
    _set_id(event, id)
    _set_stream_id(event, stream_id)
    _set_version(event, version)
    _set_position(event, position)
    _set_type(event, type)
    _set_data(event, data)
    _set_metadata(event, metadata)
    _set_tenant_id(event, tenant_id)
    _set_recorded_at(event, recorded_at)
    return event


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append wrote: the stream's new version and each event's global position."""

    stream_id: str
    version: int
    positions: tuple[int, ...]

    @property
    def first_position(self) -> int:
        return self.positions[0]

    @property
    def last_position(self) -> int:
        return self.positions[-1]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state of a stream's aggregate as of ``version``.

    ``schema`` names the shape of ``state``; a reader that no longer knows the
    shape ignores the snapshot and replays events instead.
    """

    stream_id: str
    version: int
    state: JsonObject
    schema: str = "1"
    recorded_at: datetime | None = None


# --- validation -------------------------------------------------------------------------
# These run before anything touches a backend, so bad input is refused identically
# everywhere and never half-written.


def validate_stream_id(stream_id: object) -> str:
    if not isinstance(stream_id, str):
        raise InvalidStreamId(f"stream id must be a string, not {type(stream_id).__name__}")
    if not stream_id or not stream_id.strip():
        raise InvalidStreamId("stream id must not be empty")
    if len(stream_id) > MAX_STREAM_ID_LENGTH:
        raise InvalidStreamId(f"stream id is longer than {MAX_STREAM_ID_LENGTH} characters")
    if _CONTROL_CHARS.search(stream_id):
        raise InvalidStreamId("stream id must not contain control characters")
    return stream_id


def validate_expected_version(expected: object) -> ExpectedVersion:
    if isinstance(expected, StreamState):
        return expected
    # bool is an int subclass; True as a version is a bug, not a version.
    if isinstance(expected, bool) or not isinstance(expected, int):
        raise InvalidExpectedVersion(
            f"expected_version must be ANY, NO_STREAM, STREAM_EXISTS or an integer, "
            f"not {expected!r}"
        )
    if expected < 0:
        raise InvalidExpectedVersion(f"expected_version must not be negative: {expected}")
    return expected


def validate_tenant_id(tenant_id: object) -> str | None:
    if tenant_id is None:
        return None
    if not isinstance(tenant_id, str) or not tenant_id or len(tenant_id) > MAX_STREAM_ID_LENGTH:
        raise InvalidStreamId(f"tenant id must be a non-empty string, not {tenant_id!r}")
    return tenant_id


def validate_new_events(events: object) -> list[NewEvent]:
    if isinstance(events, NewEvent):
        return [events]
    if isinstance(events, (str, bytes, Mapping)) or not hasattr(events, "__iter__"):
        raise InvalidEventData("events must be a sequence of NewEvent")
    checked = list(events)
    if not checked:
        raise InvalidEventData("an append needs at least one event")
    seen: set[uuid.UUID] = set()
    for event in checked:
        if not isinstance(event, NewEvent):
            raise InvalidEventData(f"events must be NewEvent instances, not {type(event).__name__}")
        if not isinstance(event.type, str) or not event.type.strip():
            raise InvalidEventData("event type must be a non-empty string")
        if len(event.type) > MAX_TYPE_LENGTH:
            raise InvalidEventData(f"event type is longer than {MAX_TYPE_LENGTH} characters")
        if not isinstance(event.id, uuid.UUID):
            raise InvalidEventData(f"event id must be a UUID, not {type(event.id).__name__}")
        if event.id in seen:
            raise InvalidEventData(f"event id {event.id} appears twice in one append")
        seen.add(event.id)
        check_json_object(event.data, "data")
        if event.metadata is not None:
            check_json_object(event.metadata, "metadata")
    return checked


def check_json_object(value: object, what: str) -> None:
    """Refuse anything that would not survive a JSON round trip unchanged.

    Written by hand because the fast encoders are lenient on purpose: orjson turns
    NaN into null and datetimes into strings, which would silently change the data.
    """
    if not isinstance(value, Mapping):
        raise InvalidEventData(f"event {what} must be a JSON object, not {type(value).__name__}")
    _check_json(value, what)


_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1


def _check_text(text: str, path: str) -> None:
    # Refused on every backend alike, so data accepted by SQLite never starts failing
    # after a move to PostgreSQL: jsonb cannot hold NUL, and a lone surrogate is not
    # encodable text at all.
    if text.isascii():
        if "\x00" in text:
            raise InvalidEventData(f"{path}: strings must not contain NUL (\\u0000)")
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidEventData(f"{path}: string is not valid Unicode text") from exc
    if "\x00" in text:
        raise InvalidEventData(f"{path}: strings must not contain NUL (\\u0000)")


def _check_json(value: object, path: str) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        _check_text(value, path)
        return
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise InvalidEventData(f"{path}: integer does not fit in 64 bits")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidEventData(f"{path}: {value} is not a JSON number")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidEventData(f"{path}: object keys must be strings, not {key!r}")
            _check_text(key, path)
            _check_json(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]")
        return
    raise InvalidEventData(f"{path}: {type(value).__name__} is not JSON")
