"""The segment format: a position range of the log, compressed, checksummed, chained.

A segment is one zlib stream of JSON lines. The first line is the header
``{"v": 1, "first": F, "prev": H}``: the first position it holds and the SHA-256 of
the segment before it (empty for the first one). Every following line is one event,
``[position, id, stream_id, version, type, data, metadata, tenant_id, recorded_at_us]``,
at consecutive positions from ``F``. The segment's own checksum is the SHA-256 of the
compressed bytes, kept in the manifest; because the header (and so the previous
segment's hash) is inside those bytes, the checksums form a hash chain, and changing,
dropping or reordering any segment breaks a link that ``verify`` names.

The format is written by hand (rather than, say, a tar of JSON files) because the
live tail must grow by appending: :class:`SegmentBuilder` compresses only the new
events at each ship, and a ``copy()`` of the compressor finishes the stream without
recompressing what came before.
"""

from __future__ import annotations

import hashlib
import uuid
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeAlias

import orjson

from headwater.backup._manifest import SegmentEntry
from headwater.errors import BackupCorrupt
from headwater.eventstore import _codec as codec
from headwater.eventstore._records import RecordedEvent, make_recorded_event

FORMAT_VERSION: Final = 1
#: Level 1: the log is JSON, which compresses several times even at the fastest
#: level, and shipping must cost the writer as little CPU as possible.
COMPRESSION_LEVEL: Final = 1


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def to_micros(moment: datetime) -> int:
    delta = moment - codec.EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


#: One event as a segment line holds it:
#: ``[position, id, stream_id, version, type, data, metadata, tenant_id, recorded_at_us]``.
Row: TypeAlias = list[Any]


def event_to_row(event: RecordedEvent) -> Row:
    return [
        event.position,
        str(event.id),
        event.stream_id,
        event.version,
        event.type,
        event.data,
        event.metadata,
        event.tenant_id,
        to_micros(event.recorded_at),
    ]


def row_to_event(row: Row) -> RecordedEvent:
    return make_recorded_event(
        uuid.UUID(row[1]),
        row[2],
        row[3],
        row[0],
        row[4],
        row[5],
        row[6],
        row[7],
        codec.micros_to_datetime(row[8]),
    )


def encode_event(event: RecordedEvent) -> bytes:
    return orjson.dumps(event_to_row(event))


@dataclass(frozen=True, slots=True)
class SegmentRows:
    """A decoded segment: its header and its events as rows (see :data:`Row`).

    Rows are what a restore writes; building ``RecordedEvent`` objects (UUIDs,
    datetimes) for a million events would cost more than the writing itself.
    """

    first: int
    prev: str
    rows: list[Row]

    @property
    def last(self) -> int:
        return int(self.rows[-1][0]) if self.rows else self.first - 1


@dataclass(frozen=True, slots=True)
class SegmentContent:
    """A decoded segment: its header and events."""

    first: int
    prev: str
    events: list[RecordedEvent]

    @property
    def last(self) -> int:
        return self.events[-1].position if self.events else self.first - 1


def decode_rows(blob: bytes) -> SegmentRows:
    """Decompress and parse a segment, checking its internal shape.

    Raises :class:`BackupCorrupt` for anything that is not a well-formed segment: a
    truncated stream, bad JSON, a header of another version, rows of the wrong shape,
    or positions that are not consecutive from the header's ``first``.
    """
    try:
        decompressor = zlib.decompressobj()
        text = decompressor.decompress(blob) + decompressor.flush()
        if not decompressor.eof:
            raise BackupCorrupt("the segment's compressed stream is truncated")
        lines = text.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        if not lines:
            raise BackupCorrupt("the segment is empty")
        header = orjson.loads(lines[0])
        if not isinstance(header, dict) or header.get("v") != FORMAT_VERSION:
            raise BackupCorrupt(f"the segment header is not version {FORMAT_VERSION}")
        first, prev = header["first"], header["prev"]
        if not isinstance(first, int) or not isinstance(prev, str):
            raise BackupCorrupt("the segment header is malformed")
        rows: list[Row] = [orjson.loads(line) for line in lines[1:]]
    except BackupCorrupt:
        raise
    except (zlib.error, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BackupCorrupt(f"the segment cannot be decoded: {exc}") from exc
    expected = first
    for row in rows:
        if not isinstance(row, list) or len(row) != _ROW_LENGTH or row[0] != expected:
            raise BackupCorrupt(
                f"the segment's rows are not consecutive events: expected position {expected}"
            )
        expected += 1
    return SegmentRows(first, prev, rows)


_ROW_LENGTH: Final = 9


def decode_segment(blob: bytes) -> SegmentContent:
    """Like :func:`decode_rows`, with every row made a ``RecordedEvent``."""
    decoded = decode_rows(blob)
    try:
        events = [row_to_event(row) for row in decoded.rows]
    except (TypeError, ValueError, IndexError) as exc:
        raise BackupCorrupt(f"the segment holds a malformed event: {exc}") from exc
    return SegmentContent(decoded.first, decoded.prev, events)


class SegmentBuilder:
    """Builds one segment incrementally; :meth:`blob` may be called after every add.

    Each ``add`` compresses only the new events and sync-flushes them, so the bytes
    so far are final; :meth:`blob` finishes a *copy* of the compressor, leaving this
    one open for the next events.
    """

    def __init__(self, first: int, prev: str) -> None:
        self.first = first
        self.prev = prev
        self.count = 0
        self.first_micros: int | None = None
        self.last_micros: int | None = None
        self._compressor = zlib.compressobj(COMPRESSION_LEVEL)
        header = orjson.dumps({"v": FORMAT_VERSION, "first": first, "prev": prev}) + b"\n"
        self._body = bytearray(self._compressor.compress(header))

    @property
    def last(self) -> int:
        return self.first + self.count - 1

    @property
    def raw_size(self) -> int:
        return len(self._body)

    def add(self, events: Sequence[RecordedEvent]) -> None:
        if not events:
            return
        expected = self.last + 1
        lines = bytearray()
        for event in events:
            if event.position != expected:
                # The store only ever shows a gap-free prefix; a gap here is a bug.
                raise BackupCorrupt(
                    f"events to ship are not consecutive: expected {expected}, got {event.position}"
                )
            lines += encode_event(event)
            lines += b"\n"
            expected += 1
        if self.first_micros is None:
            self.first_micros = to_micros(events[0].recorded_at)
        self.last_micros = to_micros(events[-1].recorded_at)
        self.count += len(events)
        self._body += self._compressor.compress(bytes(lines))
        self._body += self._compressor.flush(zlib.Z_SYNC_FLUSH)

    def blob(self) -> bytes:
        return bytes(self._body) + self._compressor.copy().flush(zlib.Z_FINISH)

    def entry(self, key: str, blob: bytes, *, sealed: bool = True) -> SegmentEntry:
        """The manifest entry of ``blob`` (what :meth:`blob` returned), stored at ``key``."""
        if self.first_micros is None or self.last_micros is None:
            raise BackupCorrupt("an empty segment has no manifest entry")
        return SegmentEntry(
            key=key,
            first=self.first,
            last=self.last,
            sha256=sha256(blob),
            prev=self.prev,
            size=len(blob),
            first_us=self.first_micros,
            last_us=self.last_micros,
            sealed=sealed,
        )


def build_segment(first: int, prev: str, events: Iterable[RecordedEvent]) -> bytes:
    builder = SegmentBuilder(first, prev)
    builder.add(list(events))
    return builder.blob()


def iter_events(contents: Iterable[SegmentContent]) -> Iterator[RecordedEvent]:
    for content in contents:
        yield from content.events
