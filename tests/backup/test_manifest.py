"""The manifest: encoded and decoded losslessly, damage refused, times mapped to positions."""

from __future__ import annotations

import pytest

from headwater.backup import BackupCorrupt, Manifest, SegmentEntry
from headwater.backup._manifest import Anchor


def entry(first: int, last: int, first_us: int, last_us: int, sealed: bool = True) -> SegmentEntry:
    return SegmentEntry(f"segments/{first}.seg", first, last, f"h{last}", f"h{first - 1}", 10,
                        first_us, last_us, sealed)  # fmt: skip


MANIFEST = Manifest(
    (entry(11, 20, 100, 200), entry(21, 30, 210, 300), entry(31, 35, 310, 350, sealed=False)),
    Anchor(10, "h10"),
)


def test_a_manifest_round_trips() -> None:
    assert Manifest.decode(MANIFEST.encode()) == MANIFEST
    assert (MANIFEST.first_position, MANIFEST.last_position, MANIFEST.head_sha) == (11, 35, "h35")
    assert MANIFEST.tail == MANIFEST.segments[-1]


@pytest.mark.parametrize(
    "blob", [b"", b"{", b"[]", b'{"format": 2}', b'{"format": 1, "anchor": {}, "segments": []}']
)
def test_an_unreadable_manifest_is_refused(blob: bytes) -> None:
    with pytest.raises(BackupCorrupt):
        Manifest.decode(blob)


def test_a_new_tail_replaces_the_open_one_and_follows_a_sealed_one() -> None:
    replaced = MANIFEST.with_tail(entry(31, 40, 310, 400, sealed=False))
    assert [s.last for s in replaced.segments] == [20, 30, 40]
    sealed = Manifest(MANIFEST.segments[:2], MANIFEST.anchor)
    assert [s.last for s in sealed.with_tail(entry(31, 32, 310, 320)).segments] == [20, 30, 32]


def test_positions_by_time_stop_at_segment_boundaries() -> None:
    assert MANIFEST.position_at(50) == 10
    assert MANIFEST.position_at(205) == 20
    assert MANIFEST.position_at(300) == 30
    assert MANIFEST.covering(25) == list(MANIFEST.segments[:2])
