"""Fake installed distributions for discovery tests: a dist-info folder on ``sys.path``.

``importlib.metadata`` finds a distribution by its ``*.dist-info`` folder on the
path, so writing one is enough to declare an entry point in the
``headwater.plugins`` group, with no build step.
"""

from __future__ import annotations

from pathlib import Path


def fake_distribution(
    root: Path, name: str, entry_points: dict[str, str], modules: dict[str, str] | None = None
) -> Path:
    dist = root / f"{name}-1.0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0.0\n")
    lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
    (dist / "entry_points.txt").write_text(f"[headwater.plugins]\n{lines}")
    for module, source in (modules or {}).items():
        (root / f"{module}.py").write_text(source)
    return root
