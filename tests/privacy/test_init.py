"""The privacy package's public names: sorted, complete, and importable."""

from __future__ import annotations

import headwater.privacy


def test_all_is_sorted_and_names_only_public_members() -> None:
    # Submodules show up as attributes once anything imported them; they are not names.
    names = headwater.privacy.__all__
    assert names == sorted(names, key=lambda n: (n[0].islower(), n))
    assert set(names) == {n for n in vars(headwater.privacy) if not n.startswith("_")} - {
        "migrations"
    }


def test_the_core_imports_no_web_framework() -> None:
    import sys

    for module in ("audit", "cipher", "erasure", "keys", "listeners"):
        source = sys.modules[f"headwater.privacy._{module}"].__file__
        assert source is not None
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
        assert "headwater.http" not in text
        assert "fastapi" not in text
