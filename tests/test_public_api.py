"""The public API is what users import from ``headwater``; keep it curated."""

from __future__ import annotations

import headwater
import headwater.domain
import headwater.eventstore


def _isort_style(names: list[str]) -> list[str]:
    """Constants, then classes, then functions, each alphabetically (ruff's RUF022)."""
    return sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))


def test_all_is_sorted() -> None:
    assert headwater.__all__ == _isort_style(headwater.__all__)
    for module in (headwater.eventstore, headwater.domain):
        assert module.__all__ == _isort_style(module.__all__)


def test_every_exported_name_exists() -> None:
    for module in (headwater, headwater.eventstore, headwater.domain):
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert not missing, f"{module.__name__} exports missing names: {missing}"


def test_event_store_essentials_are_exported_from_the_top() -> None:
    for name in ("create_event_store", "NewEvent", "ConcurrencyError", "NO_STREAM", "ANY"):
        assert name in headwater.__all__
