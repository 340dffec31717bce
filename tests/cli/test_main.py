"""The command line, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headwater.cli._main import app

runner = CliRunner(env={"COLUMNS": "200"})


def test_demo_runs_its_scenario_and_reports_every_step(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--url", f"sqlite:///{tmp_path / 'demo.db'}"])
    assert result.exit_code == 0, result.output
    for step in ("invite", "double scan", "retry", "read model", "live feed"):
        assert step in result.output
    assert "in order, no gap, no duplicate" in result.output
    assert "1 admitted, 1 refused" in result.output


def test_migrate_applies_once_then_reports_current(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    first = runner.invoke(app, ["migrate", "--url", url])
    assert first.exit_code == 0, first.output
    assert "applied eventstore/0001_initial" in first.output
    second = runner.invoke(app, ["migrate", "--url", url])
    assert second.exit_code == 0
    assert "0 migrations applied now" in second.output


def test_migrate_refuses_an_unknown_url_with_a_clear_message() -> None:
    result = runner.invoke(app, ["migrate", "--url", "mysql://somewhere/db"])
    assert result.exit_code == 1
    assert "unknown database URL scheme" in result.output


@pytest.mark.postgres
def test_migrate_creates_the_postgres_schema(postgres_url: str) -> None:
    first = runner.invoke(app, ["migrate", "--url", postgres_url])
    assert first.exit_code == 0, first.output
    assert "applied eventstore/0001_initial" in first.output


def test_console_script_is_installed() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "headwater.cli._main", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "migrate" in done.stdout


def test_an_apps_cli_commands_are_mounted_under_its_name(tmp_path: Path) -> None:
    # The cli hook is Module's: an app in HEADWATER_APPS gets it like an installed plugin.
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "HEADWATER_DATA_DIR": str(tmp_path),
        "HEADWATER_APPS": '["tests.cli.commands_app:module"]',
    }
    done = subprocess.run(
        [sys.executable, "-m", "headwater.cli._main", "tool", "hello", "--name", "Ada"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "tool says hello to Ada"
