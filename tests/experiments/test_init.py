"""The public face of ``headwater.experiments``: exactly its curated, sorted ``__all__``."""

from __future__ import annotations

import headwater.experiments as package


def test_all_is_sorted_and_every_name_exists() -> None:
    names = package.__all__
    assert names == sorted(
        names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n)
    )
    assert [n for n in names if not hasattr(package, n)] == []
