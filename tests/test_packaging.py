"""The wheel ships the framework, and only the framework.

The reference apps run from a checkout: installed, they would claim the top-level
name ``apps`` in every environment that installs Headwater.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("wheel")
    # Offline: no index, and the build backend (hatchling, a dev dependency) from this venv.
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index"]
    command += ["--no-build-isolation", "--wheel-dir", str(out), str(ROOT)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    [wheel] = out.glob("headwater-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


@pytest.mark.slow
def test_the_wheel_has_no_top_level_apps_package(wheel_names: list[str]) -> None:
    top_level = {name.split("/", 1)[0] for name in wheel_names}
    assert "apps" not in top_level
    assert {t for t in top_level if not t.endswith(".dist-info")} == {"headwater"}


@pytest.mark.slow
def test_the_wheel_ships_the_framework_with_its_data_files(wheel_names: list[str]) -> None:
    assert "headwater/__init__.py" in wheel_names
    assert "headwater/py.typed" in wheel_names
    # Migrations and the dashboard's assets are read at run time, not imported.
    assert any(n.startswith("headwater/eventstore/migrations/") for n in wheel_names)
    assert any(n.startswith("headwater/admin/static/") for n in wheel_names)
