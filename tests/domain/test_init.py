"""The write side's public names: curated, sorted, and all importable."""

from __future__ import annotations

import headwater.domain


def test_all_is_sorted_constants_classes_functions() -> None:
    names = headwater.domain.__all__
    assert names == sorted(
        names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n)
    )


def test_every_exported_name_exists() -> None:
    assert [n for n in headwater.domain.__all__ if not hasattr(headwater.domain, n)] == []
