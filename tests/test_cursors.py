"""Signed cursors: a forged, tampered, foreign or expired cursor is refused."""

from __future__ import annotations

import time

import pytest

from headwater.cursors import CursorCodec, InvalidCursor


def test_round_trip_keeps_the_key() -> None:
    codec = CursorCodec("k")
    cursor = codec.encode("guests:plan=a", ["2026-01-01", "id-9"])
    assert codec.decode("guests:plan=a", cursor) == ["2026-01-01", "id-9"]


@pytest.mark.parametrize("cursor", ["", "garbage", "eyJzIjoiZ3Vlc3RzIn0.AAAA.BBBB"])
def test_forged_cursor_is_invalid(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        CursorCodec("k").decode("guests", cursor)


def test_tampered_cursor_is_invalid() -> None:
    codec = CursorCodec("k")
    cursor = codec.encode("guests", [1, "a"])
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    with pytest.raises(InvalidCursor):
        codec.decode("guests", tampered)


def test_cursor_from_another_key_or_list_is_invalid() -> None:
    cursor = CursorCodec("k").encode("guests", [1])
    with pytest.raises(InvalidCursor):
        CursorCodec("other").decode("guests", cursor)
    with pytest.raises(InvalidCursor, match="another list"):
        CursorCodec("k").decode("families", cursor)


def test_expired_cursor_is_invalid() -> None:
    codec = CursorCodec("k", max_age=1)
    cursor = codec.encode("guests", [1])
    time.sleep(2.1)
    with pytest.raises(InvalidCursor, match="expired"):
        codec.decode("guests", cursor)
