"""``headwater.realtime`` exports a curated, sorted list of names that all exist."""

from __future__ import annotations

import headwater.realtime


def _isort_style(names: list[str]) -> list[str]:
    """Constants, then classes, then functions, each alphabetically (ruff's RUF022)."""
    return sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))


def test_all_is_sorted_and_complete() -> None:
    exported = headwater.realtime.__all__
    assert exported == _isort_style(exported)
    assert [name for name in exported if not hasattr(headwater.realtime, name)] == []


def test_the_protocol_is_documented_where_openapi_reads_it() -> None:
    doc = headwater.realtime.__doc__ or ""
    for word in ("subscribe", "from_position", "presence", "heartbeat", "4008", "resync_from"):
        assert word in doc
