"""``headwater dev``: one command to a served app with a tenant and signed-in users, and a
clear refusal wherever it must not run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from headwater.cli._main import app
from headwater.testing import free_port

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Printed:
    base_url: str
    password: str
    tenant_id: str
    admin_token: str
    owner_token: str


def _found(pattern: str, output: str) -> str:
    match = re.search(pattern, output)
    assert match is not None, f"{pattern!r} not printed:\n{output}"
    return match[1]


def _parse(output: str) -> Printed:
    tokens = re.findall(r"^ +Authorization: Bearer (\S+)$", output, re.MULTILINE)
    assert len(tokens) == 2, output
    return Printed(
        base_url=_found(r"API\s+(http://\S+)/docs", output),
        password=_found(r"password\s+(\S+)", output),
        tenant_id=_found(r"tenant\s+Development \((\w+)\)", output),
        admin_token=tokens[0],
        owner_token=tokens[1],
    )


@contextmanager
def _dev(workdir: Path, *args: str) -> Iterator[Printed]:
    """``headwater dev`` as a user starts it, in ``workdir``; stopped afterwards."""
    log = workdir / f"dev-{time.monotonic_ns()}.log"
    env = {
        **os.environ,
        "HEADWATER_DATA_DIR": str(workdir / "var"),
        "HEADWATER_FAST_PASSWORD_HASHING": "true",
        "HEADWATER_DISCOVER_PLUGINS": "false",
        # The tutorial's app, served from its folder as a user's own app is.
        "PYTHONPATH": str(ROOT / "examples" / "tutorial"),
    }
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_ENV", "HEADWATER_APPS"):
        env.pop(name, None)
    command = [sys.executable, "-m", "headwater.cli._main", "dev", "--port", str(free_port())]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, *args], cwd=workdir, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while "  try: curl" not in log.read_text("utf-8"):
            assert process.poll() is None, log.read_text("utf-8")
            assert time.monotonic() < deadline, log.read_text("utf-8")
            time.sleep(0.1)
        printed = _parse(log.read_text("utf-8"))
        while True:  # the report is printed during start-up, before the port is bound
            try:
                if httpx.get(f"{printed.base_url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text("utf-8")
            time.sleep(0.05)
        yield printed
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.mark.timeout(120)
def test_dev_serves_an_app_with_printed_credentials_that_work(tmp_path: Path) -> None:
    with _dev(tmp_path, "--app", "library.module:module") as printed:
        base = printed.base_url
        owner = _bearer(printed.owner_token)
        book = {"title": "Dune", "author": "Herbert"}
        added = httpx.post(f"{base}/library/books", json=book, headers=owner)
        assert added.status_code == 201, added.text  # the app's route, for the dev tenant
        shelf = httpx.get(f"{base}/library/books", headers=owner).json()["data"]
        assert [b["title"] for b in shelf] == ["Dune"]
        me = httpx.get(f"{base}/auth/me", headers=_bearer(printed.owner_token)).json()["data"]
        assert me["tenant_id"] == printed.tenant_id
        assert "tenant_admin" in me["roles"]
        tenants = httpx.get(f"{base}/admin/tenants", headers=_bearer(printed.admin_token))
        assert tenants.status_code == 200, tenants.text
        assert printed.tenant_id in tenants.text
        login = httpx.post(
            f"{base}/auth/login",
            json={"email": "owner@example.com", "password": printed.password},
        )
        assert login.status_code == 200, login.text
    assert (tmp_path / "var" / "dev.db").exists()  # SQLite, under the data directory
    kept = tmp_path / "var" / "dev-credentials.json"
    assert kept.stat().st_mode & 0o077 == 0  # the password file is the owner's alone

    with _dev(tmp_path) as again:  # a restart: the same users, tenant and password
        assert again.tenant_id == printed.tenant_id
        assert again.password == printed.password
        me = httpx.get(f"{again.base_url}/auth/me", headers=_bearer(again.owner_token))
        assert me.status_code == 200


@pytest.mark.parametrize(
    ("env", "args", "said"),
    [
        ({}, ["--url", "postgresql://postgres@127.0.0.1/test"], "SQLite only"),
        ({"HEADWATER_DATABASE_URL": "postgresql://db/prod"}, [], "SQLite only"),
        ({"HEADWATER_ENV": "production"}, [], "HEADWATER_ENV=production"),
        ({"HEADWATER_ENV": "Prod"}, ["--url", "sqlite:///x.db"], "HEADWATER_ENV=Prod"),
    ],
)
def test_dev_refuses_postgres_and_production_in_one_sentence(
    env: dict[str, str], args: list[str], said: str, tmp_path: Path
) -> None:
    clean = {"HEADWATER_DATABASE_URL": None, "HEADWATER_ENV": None}
    result = CliRunner(env={**clean, "HEADWATER_DATA_DIR": str(tmp_path), **env}).invoke(
        app, ["dev", *args]
    )
    assert result.exit_code == 2
    message = result.output.strip()
    assert said in message
    assert "\n" not in message  # one sentence, on one line
    assert message.count(". ") == 0
    assert message.endswith(".")
    assert not any(tmp_path.iterdir())  # nothing created, nothing served
