"""Column types and value encodings for read-model tables, shared by both dialects.

One encoding per type works unchanged on SQLite and PostgreSQL: timestamps travel
as fixed-width UTC ISO text, which SQLite stores as-is (so text order is time
order) and PostgreSQL casts to ``timestamptz``, because psycopg sends ``str``
parameters as type *unknown*. Decoding accepts what either driver returns.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

import orjson

from headwater.errors import InvalidReadModel
from headwater.eventstore._protocol import Dialect

#: Lower-case identifiers only: then quoting is a formality, names never collide by
#: case between SQLite (case-insensitive) and PostgreSQL (folds unquoted names), and
#: a name can never smuggle SQL into DDL.
_IDENTIFIER: Final = re.compile(r"^[a-z_][a-z0-9_]*$")
#: Leaves room under PostgreSQL's 63-byte limit for the ``__g<n>`` / ``__ix<n>`` suffixes.
MAX_TABLE_NAME: Final = 40
MAX_COLUMN_NAME: Final = 63


def check_identifier(name: object, what: str, max_length: int = MAX_COLUMN_NAME) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.match(name) or len(name) > max_length:
        raise InvalidReadModel(
            f"{what} must match [a-z_][a-z0-9_]* and be at most {max_length} characters, "
            f"not {name!r}"
        )
    return name


def quote(identifier: str) -> str:
    return f'"{identifier}"'


class ColumnType(enum.Enum):
    TEXT = "text"
    INTEGER = "integer"
    REAL = "real"
    BOOLEAN = "boolean"
    TIMESTAMP = "timestamp"
    DATE = "date"
    JSON = "json"


TEXT: Final = ColumnType.TEXT
INTEGER: Final = ColumnType.INTEGER
REAL: Final = ColumnType.REAL
BOOLEAN: Final = ColumnType.BOOLEAN
TIMESTAMP: Final = ColumnType.TIMESTAMP
DATE: Final = ColumnType.DATE
JSON: Final = ColumnType.JSON

DDL_TYPES: Final[dict[Dialect, dict[ColumnType, str]]] = {
    "sqlite": {
        TEXT: "TEXT",
        INTEGER: "INTEGER",
        REAL: "REAL",
        BOOLEAN: "INTEGER",
        TIMESTAMP: "TEXT",
        DATE: "TEXT",
        JSON: "TEXT",
    },
    "postgresql": {
        TEXT: "TEXT",
        INTEGER: "BIGINT",
        REAL: "DOUBLE PRECISION",
        BOOLEAN: "BOOLEAN",
        TIMESTAMP: "TIMESTAMPTZ",
        DATE: "DATE",
        JSON: "JSONB",
    },
}


# --- values ------------------------------------------------------------------------------


def encode_timestamp(value: datetime | str) -> str:
    """Fixed-width UTC text: sorts like time on SQLite, casts to timestamptz on PostgreSQL."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise InvalidReadModel(f"a timestamp must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None:
        raise InvalidReadModel("a timestamp must be timezone-aware (naive datetimes are ambiguous)")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_date(value: date | datetime | str) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidReadModel("a datetime used as a date must be timezone-aware")
        return value.astimezone(UTC).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(value).isoformat()


def _encode_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def decode_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(value).astimezone(UTC)


def decode_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _decode_json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


def _decode_real(value: Any) -> float:
    return float(value)


_ENCODERS: Final[dict[ColumnType, Callable[[Any], Any] | None]] = {
    TEXT: None,
    INTEGER: None,
    REAL: None,
    BOOLEAN: bool,
    TIMESTAMP: encode_timestamp,
    DATE: encode_date,
    JSON: _encode_json,
}
_DECODERS: Final[dict[ColumnType, Callable[[Any], Any] | None]] = {
    TEXT: None,
    INTEGER: int,
    REAL: _decode_real,
    BOOLEAN: bool,
    TIMESTAMP: decode_timestamp,
    DATE: decode_date,
    JSON: _decode_json,
}


def encoder(kind: ColumnType) -> Callable[[Any], Any]:
    fn = _ENCODERS[kind]
    if fn is None:
        return _identity
    return lambda v: None if v is None else fn(v)


def decoder(kind: ColumnType) -> Callable[[Any], Any]:
    fn = _DECODERS[kind]
    if fn is None:
        return _identity
    return lambda v: None if v is None else fn(v)


def _identity(value: Any) -> Any:
    return value


# --- declarations --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """A column; a bare :class:`ColumnType` in a table declaration means ``Column(type)``."""

    type: ColumnType
    nullable: bool = False
    default: int | float | str | bool | None = None


@dataclass(frozen=True, slots=True)
class Index:
    columns: tuple[str, ...]
    unique: bool = False


class Merge(enum.Enum):
    """What an upsert does to a column of a row that exists already."""

    REPLACE = "replace"  # take the new value (the default)
    ADD = "add"  # existing + new: counters and sums
    KEEP = "keep"  # keep the existing value: first-seen facts such as created_at
    GREATEST = "greatest"  # the larger of the two: last-seen timestamps
    LEAST = "least"
