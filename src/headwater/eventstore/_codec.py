"""JSON encoding of event data and metadata, shared by the backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from headwater.eventstore._records import JsonObject

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


def loads_metadata(text: str | bytes) -> JsonObject:
    # Most events carry no metadata; "{}" is stored and needs no parser.
    return {} if text == "{}" else loads(text)


def micros_to_datetime(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def now_micros() -> int:
    delta = datetime.now(UTC) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
