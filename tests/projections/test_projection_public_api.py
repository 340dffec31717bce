"""The read side's public names: sorted the way ruff sorts them, and all importable."""

from __future__ import annotations

import headwater.projections as projections


def _isort_style(names: list[str]) -> list[str]:
    """Constants, then classes, then functions, each alphabetically (ruff's RUF022)."""
    return sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))


def test_all_is_sorted_and_every_name_exists() -> None:
    assert projections.__all__ == _isort_style(projections.__all__)
    missing = [name for name in projections.__all__ if not hasattr(projections, name)]
    assert not missing, f"headwater.projections exports missing names: {missing}"
