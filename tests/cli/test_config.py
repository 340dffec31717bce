"""``headwater config check`` names every problem of a configuration for its profile, and
``headwater serve`` refuses to start production with an unsafe one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headwater.app._profiles import check_settings
from headwater.cli._main import app
from headwater.settings import Settings

SAFE_SECRET = "k" * 48
#: Every HEADWATER_* variable the runner might inherit, cleared so each test says its own.
CLEAN = {name: None for name in os.environ if name.startswith("HEADWATER_")}

UNSAFE_PRODUCTION = {
    "HEADWATER_ENV": "production",
    "HEADWATER_NODES": "3",
    "HEADWATER_DATABASE_URL": "sqlite:///var/prod.db",
    "HEADWATER_COOKIE_SECURE": "false",
    "HEADWATER_RATE_LIMITS": "false",
    "HEADWATER_FAST_PASSWORD_HASHING": "true",
    "HEADWATER_HSTS": "false",
    "HEADWATER_CORS_ORIGINS": '["*"]',
}
SAFE_PRODUCTION = {
    "HEADWATER_ENV": "production",
    "HEADWATER_NODES": "3",
    "HEADWATER_DATABASE_URL": "postgresql://app@db.internal/headwater",
    "HEADWATER_REDIS_URL": "redis://cache.internal:6379/0",
    "HEADWATER_SECRET_KEY": SAFE_SECRET,
    "HEADWATER_METRICS_TOKEN": "scrape-token",
    "HEADWATER_CORS_ORIGINS": '["https://app.example"]',
}


def check(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner(env={**CLEAN, **env}).invoke(app, ["config", "check", *args])
    return result.exit_code, result.output


def test_an_unsafe_production_configuration_is_refused_naming_each_problem() -> None:
    code, output = check(UNSAFE_PRODUCTION)
    assert code == 1
    for setting, words in [
        ("HEADWATER_SECRET_KEY", "is not set"),
        ("HEADWATER_COOKIE_SECURE", "plain HTTP"),
        ("HEADWATER_DATABASE_URL", "SQLite with 3 nodes"),
        ("HEADWATER_REDIS_URL", "per node"),
        ("HEADWATER_RATE_LIMITS", "is off"),
        ("HEADWATER_FAST_PASSWORD_HASHING", "is on"),
        ("HEADWATER_HSTS", "is false"),
        ("HEADWATER_CORS_ORIGINS", '"*"'),
    ]:
        (line,) = [line for line in output.splitlines() if f"error: {setting}:" in line]
        assert words in line, line
    assert "warning: HEADWATER_METRICS_TOKEN" in output
    assert output.startswith("8 error(s), 1 warning(s) for production:")


def test_a_safe_production_configuration_passes() -> None:
    code, output = check(SAFE_PRODUCTION)
    assert code == 0, output
    assert output.strip() == "configuration OK for production"


def test_staging_reports_the_same_findings_as_warnings() -> None:
    code, output = check({**UNSAFE_PRODUCTION, "HEADWATER_ENV": "staging"})
    assert code == 0
    assert "0 error(s), 9 warning(s) for staging" in output
    assert "warning: HEADWATER_RATE_LIMITS" in output


def test_development_asks_nothing_and_env_can_be_chosen_on_the_command_line() -> None:
    unsafe_dev = {**UNSAFE_PRODUCTION, "HEADWATER_ENV": "development"}
    assert check(unsafe_dev) == (0, "configuration OK for development\n")
    code, output = check(unsafe_dev, "--env", "prod")
    assert code == 1
    assert "for production" in output


def test_settings_that_cannot_be_read_exit_2_naming_the_variable() -> None:
    code, output = check({"HEADWATER_ENV": "qa"})
    assert code == 2
    assert "HEADWATER_ENV" in output


@pytest.mark.parametrize(
    ("changes", "setting"),
    [
        ({"secret_key": "short"}, "HEADWATER_SECRET_KEY"),
        ({"database_url": "sqlite:///:memory:", "nodes": 1}, "HEADWATER_DATABASE_URL"),
        ({"bootstrap_admin_email": "a@b.c", "bootstrap_admin_password": "pw"}, "PASSWORD"),
        ({"cors_origins": ["http://app.example"]}, "HEADWATER_CORS_ORIGINS"),
    ],
)
def test_each_rule_names_its_setting(changes: dict[str, object], setting: str) -> None:
    base: dict[str, object] = {
        "env": "production",
        "database_url": "postgresql://db/app",
        "secret_key": SAFE_SECRET,
        "metrics_token": "t",
    }
    assert check_settings(Settings(**base)) == []  # type: ignore[arg-type]
    problems = check_settings(Settings(**{**base, **changes}))  # type: ignore[arg-type]
    assert [p.severity for p in problems] == ["error"]
    assert setting in problems[0].setting


def test_serve_refuses_to_start_an_unsafe_production_and_says_why(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update(UNSAFE_PRODUCTION)
    env["HEADWATER_DATA_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "headwater.cli._main", "serve", "--port", "18501"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "refuses to start production" in done.stderr
    assert "HEADWATER_RATE_LIMITS" in done.stderr
    assert "HEADWATER_SECRET_KEY" in done.stderr
    assert not any(tmp_path.iterdir())  # refused before anything was opened


def test_the_app_factory_refuses_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from headwater.app._server import build_from_env
    from headwater.errors import InvalidInput

    for name in list(os.environ):
        if name.startswith("HEADWATER_"):
            monkeypatch.delenv(name)
    for name, value in UNSAFE_PRODUCTION.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(InvalidInput, match="HEADWATER_COOKIE_SECURE"):
        build_from_env()
