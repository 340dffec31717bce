"""JSON encoding of event data and metadata, shared by the backends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from headwater.eventstore.records import JsonObject

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EMPTY: Final = b"{}"


def dumps(value: Any) -> str:
    """Compact JSON text; input was already checked by ``records.check_json_object``."""
    return orjson.dumps(value).decode()


def dumps_metadata(value: Any) -> str:
    return "{}" if not value else orjson.dumps(value).decode()


def loads(text: str | bytes) -> JsonObject:
    value: JsonObject = orjson.loads(text)
    return value


def trusted_uuid(text: str) -> uuid.UUID:
    """A UUID from text this store wrote itself (``str(uuid)``), without re-validating it.

    ``uuid.UUID(text)`` spends most of its time checking input we produced; on reads
    of thousands of events that check was the largest single cost of decoding.
    """
    value = object.__new__(uuid.UUID)
    object.__setattr__(value, "int", int(text.replace("-", ""), 16))
    object.__setattr__(value, "is_safe", uuid.SafeUUID.unknown)
    return value


def micros_to_datetime(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def now_micros() -> int:
    delta = datetime.now(UTC) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
