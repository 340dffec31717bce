"""The segment format: what goes in comes out, and any damage is refused, not misread."""

from __future__ import annotations

import uuid
import zlib
from datetime import UTC, datetime, timedelta

import pytest

from headwater.backup import BackupCorrupt
from headwater.backup._segment import SegmentBuilder, build_segment, decode_rows, decode_segment
from headwater.eventstore._records import RecordedEvent

START = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def events(first: int, count: int) -> list[RecordedEvent]:
    return [
        RecordedEvent(
            id=uuid.uuid4(),
            stream_id=f"s-{p % 3}",
            version=p,
            position=p,
            type="deposit",
            data={"amount": p, "note": "naïve ✓", "nested": {"list": [1, 2.5, None, True]}},
            metadata={} if p % 2 else {"by": "me"},
            tenant_id=None if p % 4 else "t1",
            recorded_at=START + timedelta(microseconds=p * 1001),
        )
        for p in range(first, first + count)
    ]


def test_a_segment_round_trips_every_field() -> None:
    written = events(11, 50)
    content = decode_segment(build_segment(11, "abc", written))
    assert (content.first, content.last, content.prev) == (11, 60, "abc")
    assert content.events == written


def test_a_growing_tail_gives_a_complete_segment_after_every_add() -> None:
    builder = SegmentBuilder(1, "")
    written = events(1, 30)
    for start in range(0, 30, 7):
        builder.add(written[start : start + 7])
        assert decode_segment(builder.blob()).events == written[: start + 7]
    assert builder.count == 30


def test_a_builder_refuses_events_that_do_not_continue_it() -> None:
    builder = SegmentBuilder(5, "")
    with pytest.raises(BackupCorrupt):
        builder.add(events(6, 1))


@pytest.mark.parametrize(
    "damage",
    [
        lambda blob: blob[: len(blob) // 2],
        lambda blob: blob[:-1],
        lambda blob: b"not zlib at all",
        lambda blob: zlib.compress(b'{"v": 2, "first": 1, "prev": ""}\n'),
        lambda blob: zlib.compress(b'{"v": 1, "first": 1, "prev": ""}\n[2]\n'),
        lambda blob: zlib.compress(b'{"v": 1, "first": 1, "prev": ""}\n{"x": 1}\n'),
        lambda blob: zlib.compress(b""),
    ],
)
def test_damaged_or_foreign_bytes_are_refused(damage: object) -> None:
    blob = build_segment(1, "", events(1, 20))
    with pytest.raises(BackupCorrupt):
        decode_rows(damage(blob))  # type: ignore[operator]


def test_events_out_of_order_are_refused() -> None:
    written = events(1, 3)
    builder = SegmentBuilder(1, "")
    builder.add(written)
    text = zlib.decompress(builder.blob()).split(b"\n")
    text[1], text[2] = text[2], text[1]
    with pytest.raises(BackupCorrupt, match="consecutive"):
        decode_rows(zlib.compress(b"\n".join(text)))
