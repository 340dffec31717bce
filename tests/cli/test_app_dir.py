"""``headwater`` finds apps in the directory it is started from, as uvicorn's ``--app-dir .``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEADWATER = Path(sys.executable).with_name("headwater")


@pytest.mark.slow
def test_the_console_script_imports_an_app_from_the_working_directory(tmp_path: Path) -> None:
    # Not installed anywhere: importable only because the script runs in its directory.
    package = tmp_path / "greeter_app"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from headwater import TEXT, Projection, Table\n"
        "print('greeter_app imported')\n"
        "projections = [Projection('greetings', tables=[Table('greetings', {'name': TEXT},"
        " primary_key='name')])]\n"
    )
    url = f"sqlite:///{tmp_path / 'events.db'}"
    env = {"PATH": str(HEADWATER.parent), "HEADWATER_SECRET_KEY": "test-secret-key"}
    for command in (["migrate"], ["projections", "status", "--app", "greeter_app:projections"]):
        done = subprocess.run(
            [str(HEADWATER), *command, "--url", url],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert "greeter_app imported" in done.stdout
