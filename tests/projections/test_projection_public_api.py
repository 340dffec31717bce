"""The read side's public names: sorted the way ruff sorts them, and all importable."""

from __future__ import annotations

import headwater.projections as projections
import headwater.queries as queries


def _isort_style(names: list[str]) -> list[str]:
    """Constants, then classes, then functions, each alphabetically (ruff's RUF022)."""
    return sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))


def test_all_is_sorted_and_every_name_exists() -> None:
    for module in (projections, queries):
        assert module.__all__ == _isort_style(module.__all__)
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert not missing, f"{module.__name__} exports missing names: {missing}"
