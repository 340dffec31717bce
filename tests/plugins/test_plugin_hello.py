"""The example plugin, installed as a real package: every hook works in a served app.

``pip install --target`` puts the package and its ``*.dist-info`` (with the
``headwater.plugins`` entry point) in a folder of its own; nothing imports
``plugin_hello`` by path: it is found through ``importlib.metadata`` only, by the
``headwater`` command (its CLI and ``migrate``) and by ``headwater serve``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headwater.app import create_app
from headwater.plugins import GROUP, InstalledPlugins, discover_plugins, mount_plugin_cli
from headwater.testing._server import serve
from tests.http.support import make_settings
from tests.plugins.support import fake_distribution

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plugin_hello"
VERSION = "0.2.0"
ADMIN_EMAIL, ADMIN_PASSWORD = "root@hello.example", "root-password-1"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example, pip-installed (offline, with the venv's setuptools) into its own folder."""
    work = tmp_path_factory.mktemp("plugin_hello")
    source = work / "src"
    # Built from a copy, so the build leaves no egg-info or build/ in the repository.
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = work / "site"
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    command += ["--no-build-isolation", "--target", str(target), str(source)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(target.glob("headwater_plugin_hello-*.dist-info/entry_points.txt"))
    return target


@pytest.fixture
def on_path(installed: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(installed))
    yield installed
    sys.modules.pop("plugin_hello", None)


def test_the_installed_example_is_discovered_and_serves_its_route(
    on_path: Path, tmp_path: Path
) -> None:
    (plugin,) = discover_plugins({"HEADWATER_PLUGIN_HELLO_GREETING": "bonjour"}, only=["hello"])
    assert (plugin.name, plugin.version) == ("hello", VERSION)
    # It came from the installed copy, through the entry point group.
    assert str(on_path) in str(sys.modules["plugin_hello"].__file__)
    app = create_app(make_settings(tmp_path), plugins=[InstalledPlugins([plugin])])
    with TestClient(app) as client:
        response = client.get("/plugins/hello")
        listing = client.get("/plugins").json()["data"]
    assert response.status_code == 200
    assert response.json()["data"]["message"] == "bonjour, world"
    assert listing == [{"name": "hello", "version": VERSION}]


def test_the_example_plugin_adds_a_cli_command(on_path: Path) -> None:
    import typer

    plugins = discover_plugins({"HEADWATER_PLUGIN_HELLO_GREETING": "hola"}, only=["hello"])
    cli = typer.Typer()

    @cli.command()
    def version() -> None:  # a second command, so typer keeps sub-commands by name
        typer.echo("0")

    assert mount_plugin_cli(cli, plugins) == ["hello"]
    result = CliRunner().invoke(cli, ["hello", "greet", "--name", "Ada"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "hola, Ada"


def headwater(args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """The ``headwater`` command in a process of its own, as an operator runs it."""
    command = [sys.executable, "-m", "headwater.cli._main", *args]
    return subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


def wait_for(check: str, probe: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {check}")
        time.sleep(0.1)


@pytest.mark.slow
def test_every_hook_of_the_installed_plugin_works_in_a_served_app(
    installed: Path, tmp_path: Path
) -> None:
    database = f"sqlite:///{tmp_path / 'serve.db'}"
    lifecycle = tmp_path / "lifecycle.log"
    env = {
        "PYTHONPATH": str(installed),
        "HEADWATER_DATABASE_URL": database,
        "HEADWATER_DATA_DIR": str(tmp_path),
        "HEADWATER_PLUGINS": '["hello"]',
        "HEADWATER_PLUGIN_HELLO_GREETING": "hallo",
        "HEADWATER_PLUGIN_HELLO_LIFECYCLE_LOG": str(lifecycle),
        "HEADWATER_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
        "HEADWATER_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    # Migrations: `headwater migrate` runs the discovered plugin's too.
    migrated = headwater(["migrate"], env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "applied hello.0001_hello_greetings" in migrated.stdout
    # CLI: its commands are mounted under its name.
    greeted = headwater(["hello", "greet", "--name", "Ada"], env)
    assert greeted.returncode == 0, greeted.stdout + greeted.stderr
    assert greeted.stdout.strip() == "hallo, Ada"

    with (
        serve(database, workdir=tmp_path, env=env) as server,
        httpx.Client(base_url=server.url, timeout=5) as http,
    ):
        # Start: called once the node is up.
        assert lifecycle.read_text() == "started\n"
        # Routes, and middleware that sees the requests (its header, its count).
        first = http.get("/plugins/hello")
        assert first.status_code == 200, first.text
        assert first.json()["data"]["message"] == "hallo, world"
        second = http.get("/plugins/hello")
        assert int(second.headers["x-hello-seen"]) > int(first.headers["x-hello-seen"])
        assert second.json()["data"]["requests_seen"] >= 2
        # Jobs: the greeting's event enqueues the plugin's job, which writes its table.
        assert http.post("/plugins/hello/greetings", json={"name": "Ada"}).status_code == 202

        def recorded() -> bool:
            rows = http.get("/plugins/hello/greetings").json()["data"]
            return bool(rows == [{"name": "Ada"}])

        wait_for("the plugin's job has recorded the greeting", recorded)
        # Endpoint limits: three greetings a minute, so the fourth is refused.
        statuses = [
            http.post("/plugins/hello/greetings", json={"name": name}).status_code
            for name in ("Bo", "Cy", "Di")
        ]
        assert statuses == [202, 202, 429]
        # Admin panels: on the dashboard's overview, named for the plugin.
        login = http.post("/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        token = login.json()["data"]["access_token"]
        overview = http.get("/admin/api/overview", headers={"authorization": f"Bearer {token}"})
        assert overview.status_code == 200, overview.text
        panels = [(p["id"], p["app"]) for p in overview.json()["data"]["panels"]]
        assert ("hello-greetings", "hello") in panels
    # Stop: called at shutdown.
    assert lifecycle.read_text() == "started\nstopped\n"


@pytest.mark.slow
def test_headwater_serve_refuses_to_start_with_a_broken_plugin(
    installed: Path, tmp_path: Path
) -> None:
    broken = fake_distribution(tmp_path / "broken", "broken-plugin", {"broken": "gone_xyz:P"})
    env = {"PYTHONPATH": f"{installed}:{broken}", "HEADWATER_RATE_LIMITS": "false"}
    with (
        pytest.raises(RuntimeError, match="server exited") as caught,
        serve(
            f"sqlite:///{tmp_path / 'serve.db'}",
            workdir=tmp_path,
            apps=["headwater.plugins:InstalledPlugins"],
            env=env,
            startup_timeout=20,
        ),
    ):
        pass
    assert "plugin 'broken' failed to load" in str(caught.value)
    assert "gone_xyz" in str(caught.value)


def test_the_example_declares_its_entry_point_in_the_plugin_group() -> None:
    text = (EXAMPLE / "pyproject.toml").read_text()
    assert f'[project.entry-points."{GROUP}"]' in text
    assert 'hello = "plugin_hello:HelloPlugin"' in text
