"""Inline handlers' statements, prepared before the append lock is taken.

The PostgreSQL writer sends a whole group commit, with every handler's statements,
in one round trip, so the append lock (``hw_head``) is held for server-side work
only. But a handler builds its SQL from recorded events, and three of their fields
are only known once the server has placed the append in the log: ``position``,
``version`` (for appends that do not state an exact expected version) and
``recorded_at``. So the handlers run here on stand-in events, and the values that
come from those fields become slots that ``hw_append_handled`` fills in (see
``migrations/postgresql/0002_inline_handlers.sql`` and ``0003``); every other value
is rendered as an SQL literal with psycopg's own adapters. Each statement travels as
its SQL text around the placeholders and one argument per placeholder, so that the
server can run a run of single-row INSERTs of one text as one multi-row INSERT.

Which parameter comes from which field is found by running the handlers on two sets
of stand-ins that differ in every server-assigned field (a handler that returns
nothing on the first is not run again, nor is one that did not read any of those
fields: the stand-ins note every read): a parameter equal in both
runs is a plain value; one that equals the same field of the same event in both runs
(the field itself, or ``recorded_at`` as integer microseconds, the form the security
lookup uses) is a slot; one that changed otherwise is run a third time with the
first stand-ins, and if it changed again it does not depend on the log at all (a
clock read, a random id) and the first value stands. Anything else (a value derived
in some other way, statements that differ in shape, a handler that raises) cannot be
prepared: that append goes the slow way, its handlers run with the real events
inside the transaction (:meth:`GroupCommitWriter._write_one_by_one`).

Handlers must therefore be pure functions of their events, as ``InlineHandler``
says: they may run more than once for one append.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Final, TypeAlias

from psycopg.adapt import Transformer

from headwater.eventstore._protocol import InlineHandler
from headwater.eventstore._records import NewEvent, RecordedEvent
from headwater.eventstore._sql import Statement, qmark_to_pyformat

#: One argument: an SQL literal, or a slot [kind, event offset] the server fills in.
Argument: TypeAlias = str | list[Any]
#: One statement as ``hw_run_statements`` takes it: whether it may be merged with its
#: neighbours (1 or 0), the SQL text around each placeholder, one argument for each.
Prepared: TypeAlias = tuple[int, tuple[str, ...], list[Argument]]

# The second stand-ins differ from the first by amounts no real log reaches in between.
_POSITION_SHIFT: Final = 1 << 44
_VERSION_SHIFT: Final = 1 << 36
_TIME_SHIFT: Final = timedelta(days=4321, microseconds=123_457)
_PLACEHOLDER: Final = re.compile(r"%%|%s")


class NotPreparable(Exception):
    """The handlers' statements cannot be sent ahead: use the slow path."""


@dataclass(frozen=True, slots=True)
class StandIns:
    """The server-assigned fields that one run of the handlers is given."""

    first_position: int
    first_version: int
    recorded_at: datetime

    def shifted(self) -> StandIns:
        return StandIns(
            self.first_position + _POSITION_SHIFT,
            self.first_version + _VERSION_SHIFT,
            self.recorded_at + _TIME_SHIFT,
        )

    def events(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        tenant_id: str | None,
        decoded: Sequence[tuple[Any, Any]],
        reads: list[bool],
    ) -> list[RecordedEvent]:
        """The stand-in events; ``reads[0]`` becomes True once a handler reads one of
        their server-assigned fields."""
        stand_ins: list[RecordedEvent] = []
        for offset, (event, (data, metadata)) in enumerate(zip(events, decoded, strict=True)):
            # Built from values the store made itself: the fast constructor's way.
            stand_in = _new_stand_in(_StandIn)
            _fill(
                stand_in,
                event.id,
                stream_id,
                self.first_version + offset,
                self.first_position + offset,
                event.type,
                data,
                metadata,
                tenant_id,
                self.recorded_at,
            )
            _set_reads(stand_in, reads)
            stand_ins.append(stand_in)
        return stand_ins

    def literals(self, count: int) -> dict[str, list[tuple[str, int]]]:
        """The literal of each server-assigned value, and the slots it may stand for
        (a position and a version can be the same number)."""
        found: dict[str, list[tuple[str, int]]] = {}
        literal = _literal
        values: list[tuple[object, tuple[str, int]]] = [
            (self.recorded_at, ("t", 0)),
            (_micros(self.recorded_at), ("u", 0)),
        ]
        for offset in range(count):
            values.append((self.first_position + offset, ("p", offset)))
            values.append((self.first_version + offset, ("v", offset)))
        for value, slot in values:
            found.setdefault(literal(value), []).append(slot)
        return found


#: The fields whose values the server assigns (see the module docstring).
_FROM_LOG: Final = frozenset({"position", "version", "recorded_at"})


class _StandIn(RecordedEvent):
    """A stand-in event that notes when one of its server-assigned fields is read.

    A handler is a pure function of its events (``InlineHandler``): one that read
    none of those fields gives the same statements whatever the server assigns, so
    it need not be run on the second stand-ins. Every way of reading a field (the
    attribute, ``dataclasses.asdict``, ``repr``, comparison) goes through the
    attribute, which for those three fields is a property here; the other fields
    keep their plain slots, so reading them costs nothing extra."""

    __slots__ = ("_reads",)


def _noting_read(name: str) -> property:
    slot = RecordedEvent.__dict__[name]

    def read(self: RecordedEvent) -> Any:
        with contextlib.suppress(AttributeError):  # e.g. a dataclasses.replace() copy
            _get_reads(self)[0] = True
        return slot.__get__(self, RecordedEvent)

    def write(self: RecordedEvent, value: Any) -> None:  # a dataclasses.replace() copy
        slot.__set__(self, value)

    return property(read, write)


_get_reads: Final = _StandIn.__dict__["_reads"].__get__
for _name in _FROM_LOG:
    setattr(_StandIn, _name, _noting_read(_name))
_new_stand_in: Final = object.__new__
_set_reads: Final = _StandIn.__dict__["_reads"].__set__


def _fill(event: RecordedEvent, *values: Any) -> None:
    for setter, value in zip(_SETTERS, values, strict=True):
        setter(event, value)


_SETTERS: Final = tuple(
    RecordedEvent.__dict__[name].__set__
    for name in (
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
)


def _micros(moment: datetime) -> int:
    # Exactly the security lookup's form; the server computes the same double arithmetic.
    return int(moment.timestamp() * 1_000_000)


# Psycopg's adapters without a connection: the same literals its client-side cursor
# renders (standard_conforming_strings is on for every supported server).
_TRANSFORMER: Final = Transformer()


def _literal(value: object) -> str:
    """``value`` as an SQL literal. The two commonest types are spelled here, exactly
    as psycopg spells them, at a tenth of the cost; the rest go through its adapters."""
    if type(value) is int:
        # A space before a minus, so that "x -" followed by it never reads as "--".
        return str(value) if value >= 0 else f" {value}"
    if type(value) is str and "\\" not in value and "\0" not in value:
        return "'" + value.replace("'", "''") + "'"
    if value is None:
        return "NULL"
    return _TRANSFORMER.as_literal(value).decode()


Flat: TypeAlias = list[tuple[str, tuple[Any, ...]]]


def _flatten(statements: Sequence[Statement], into: Flat) -> None:
    """One (pyformat SQL, params) per row: executemany statements become one per row."""
    for statement in statements:
        query = qmark_to_pyformat(statement.sql)
        if statement.many:
            into.extend((query, tuple(row)) for row in statement.params)
        else:
            into.append((query, tuple(statement.params)))


def _same_shape(a: Flat, b: Flat) -> bool:
    return len(a) == len(b) and all(
        qa == qb and len(pa) == len(pb) for (qa, pa), (qb, pb) in zip(a, b, strict=True)
    )


@lru_cache(maxsize=1024)
def _split(query: str) -> tuple[str, ...]:
    """The SQL text around each ``%s``, with ``%%`` back to ``%``."""
    texts: list[str] = []
    current: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(query):
        current.append(query[last : match.start()])
        last = match.end()
        if match.group() == "%%":
            current.append("%")
        else:
            texts.append("".join(current))
            current = []
    current.append(query[last:])
    texts.append("".join(current))
    return tuple(texts)


class _Runs:
    """The handlers run on the stand-ins: the first and second (shifted) runs, and a
    third, with the first stand-ins again, only when a value must be told apart from
    one that changes by itself."""

    def __init__(
        self,
        handlers: Sequence[InlineHandler],
        stream_id: str,
        events: Sequence[NewEvent],
        tenant_id: str | None,
        guess: StandIns,
        decoded: Sequence[tuple[Any, Any]],
    ) -> None:
        # Shared by the runs: handlers must not change the events they are given.
        self.guess = guess
        self._other: StandIns | None = None  # the shifted ones, made when first needed
        self.count = len(events)
        self._handlers: list[InlineHandler] = []
        reads = [False]
        self._first_events = guess.events(stream_id, events, tenant_id, decoded, reads)
        second_events: list[RecordedEvent] | None = None
        self.first: Flat = []
        self.second: Flat = []
        self._third: Flat | None = None
        for handler in handlers:
            reads[0] = False
            produced = handler(self._first_events)
            # A handler with nothing to say about these events (most handlers, for
            # most events) is taken at its word: no second run.
            if produced:
                self._handlers.append(handler)
                start = len(self.first)
                _flatten(produced, self.first)  # (a generator reads fields only now)
                if not reads[0]:
                    # Nothing it wrote can depend on the log: the same in both runs.
                    self.second.extend(self.first[start:])
                    continue
                if second_events is None:
                    second_events = self.other().events(
                        stream_id, events, tenant_id, decoded, [False]
                    )
                _flatten(handler(second_events), self.second)
        #: Whether any handler ran twice: if none did, the runs are the same entries.
        self.reran = second_events is not None
        if self.reran and not _same_shape(self.first, self.second):
            raise NotPreparable("the handlers' statements depend on the log in shape")
        self._slots: tuple[dict[str, list[tuple[str, int]]], ...] | None = None

    def other(self) -> StandIns:
        if self._other is None:
            self._other = self.guess.shifted()
        return self._other

    def slots(self) -> tuple[dict[str, list[tuple[str, int]]], ...]:
        if self._slots is None:
            self._slots = (self.guess.literals(self.count), self.other().literals(self.count))
        return self._slots

    def third(self) -> Flat:
        if self._third is None:
            third: Flat = []
            for handler in self._handlers:
                _flatten(handler(self._first_events), third)
            if not _same_shape(self.first, third):
                raise NotPreparable("the handlers' statements change from run to run in shape")
            self._third = third
        return self._third


def prepare_statements(
    handlers: Sequence[InlineHandler],
    stream_id: str,
    events: Sequence[NewEvent],
    tenant_id: str | None,
    guess: StandIns,
    decoded: Sequence[tuple[Any, Any]],
) -> list[Prepared]:
    """The handlers' statements, ready for ``hw_run_statements``; raises NotPreparable.

    ``decoded`` is each event's (data, metadata) as a reader would decode them: the
    handlers see what they would see on the real events."""
    try:
        runs = _Runs(handlers, stream_id, events, tenant_id, guess, decoded)
        return [_parts(runs, index) for index in range(len(runs.first))]
    except NotPreparable:
        raise
    except Exception as exc:  # the slow path runs them on the real events, and reports
        raise NotPreparable(f"a handler raised {exc!r}") from exc


def _parts(runs: _Runs, index: int) -> Prepared:
    query, params = runs.first[index]
    others = runs.second[index][1]
    texts = _split(query)
    if len(texts) != len(params) + 1:
        raise NotPreparable(f"{len(params)} parameters for {len(texts) - 1} placeholders")
    literal = _literal
    if runs.second[index] is runs.first[index]:
        # From a handler that read no server-assigned field: every value is plain.
        return (_mergeable(texts), texts, [literal(value) for value in params])
    arguments: list[Argument] = []
    for position, (value, shifted) in enumerate(zip(params, others, strict=True)):
        if value is shifted or (type(value) is type(shifted) and value == shifted):
            arguments.append(literal(value))  # the same in both runs: plain
        else:
            text = literal(value)
            first, second = runs.slots()
            both = set(first.get(text, ())) & set(second.get(literal(shifted), ()))
            if both:
                arguments.append(list(min(both)))
            elif literal(runs.third()[index][1][position]) != text:
                arguments.append(text)  # not from the log (a clock read, a random id)
            else:
                raise NotPreparable(f"a parameter depends on the log: {value!r}")
    return (_mergeable(texts), texts, arguments)


# A single-row INSERT whose row is nothing but placeholders, with no query in it that
# could read what the rows before it wrote: "INSERT INTO t (a, b) VALUES (?, ?)" and
# any ON CONFLICT clause. The server may run consecutive ones as one multi-row INSERT
# (see migrations/postgresql/0003_handler_statement_runs.sql).
_ROW_HEAD: Final = re.compile(r"(?is)\s*INSERT\s+INTO\s[^;]*\bVALUES\s*\(\s*")
_ROW_SEPARATOR: Final = re.compile(r"\s*,\s*")
_ROW_TAIL: Final = re.compile(r"(?is)\s*\)(?!\s*,)[^;]*")
_QUERY_WORDS: Final = re.compile(r"(?i)\b(?:SELECT|VALUES|WITH)\b")


@lru_cache(maxsize=1024)
def _mergeable(texts: tuple[str, ...]) -> int:
    """1 if statements of this text may be merged with their neighbours, else 0."""
    if len(texts) < 2:
        return 0
    head, *separators, tail = texts
    return int(
        _ROW_HEAD.fullmatch(head) is not None
        and len(_QUERY_WORDS.findall(head)) == 1  # its VALUES, nothing else
        and all(_ROW_SEPARATOR.fullmatch(text) for text in separators)
        and _ROW_TAIL.fullmatch(tail) is not None
        and _QUERY_WORDS.search(tail) is None
    )


def guess_now() -> datetime:
    return datetime.now(UTC)


# --- a whole group's statements, merged before they are sent ---------------------------

#: The 'u' slot as an expression of the group's recorded_at ($2): exactly the
#: security lookup's int(recorded_at.timestamp() * 1_000_000), as 0003 renders it.
_MICROS_OF_RECORDED_AT: Final = (
    "trunc(((extract(epoch FROM $2::timestamptz) * 1000000)::BIGINT::FLOAT8 / 1000000)"
    " * 1000000)::BIGINT"
)


def merge_group(
    appends: Sequence[tuple[Sequence[Prepared], int, int | None]],
    unmergeable: Container[tuple[str, ...]] = (),
) -> list[str] | None:
    """A group's statements as ``hw_append_merged`` runs them when every append of the
    group is 'ok': one SQL text per run of consecutive mergeable statements with the
    same texts (one multi-row INSERT), and one per other statement, in order.

    ``appends`` holds each append's statements, its event count, and its first version
    if the append states it exactly (else None). Every append being 'ok', positions are
    known relative to the group's first one, which the server passes as ``$1``, with
    the group's ``recorded_at`` as ``$2``; versions are known when the append states its
    expected version. Returns None if a statement needs a version that is not known:
    the server then renders the slots itself (0003's way).
    """
    merged: list[str] = []
    run_texts: tuple[str, ...] | None = None
    run_rows: list[str] = []
    offset = 0
    for prepared, count, first_version in appends:
        for mergeable, texts, arguments in prepared:
            if mergeable and texts in unmergeable:
                mergeable = 0
            parts: list[str] = []
            for index, argument in enumerate(arguments):
                if index:
                    parts.append(texts[index])
                if isinstance(argument, str):
                    parts.append(argument)
                    continue
                kind, k = argument
                if kind == "p":
                    parts.append(f"($1::BIGINT + {offset + int(k)})")
                elif kind == "v" and first_version is not None:
                    parts.append(str(first_version + int(k)))
                elif kind == "t":
                    parts.append("$2::timestamptz")
                elif kind == "u":
                    parts.append(_MICROS_OF_RECORDED_AT)
                else:
                    return None
            row = "".join(parts)
            if mergeable and texts == run_texts:
                run_rows.append(row)
                continue
            if run_texts is not None:
                merged.append(run_texts[0] + "), (".join(run_rows) + run_texts[-1])
                run_texts = None
            if mergeable:
                run_texts, run_rows = texts, [row]
            elif len(texts) > 1:
                merged.append(texts[0] + row + texts[-1])
            else:
                merged.append(texts[0])
        offset += count
    if run_texts is not None:
        merged.append(run_texts[0] + "), (".join(run_rows) + run_texts[-1])
    return merged
