"""The example plugin, installed as a real package, is discovered by its entry point.

``pip install --target`` puts the package and its ``*.dist-info`` (with the
``headwater.plugins`` entry point) in a folder of its own; nothing imports
``plugin_hello`` by path: it is found through ``importlib.metadata`` only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headwater.app import create_app
from headwater.plugins import GROUP, InstalledPlugins, discover_plugins, mount_plugin_cli
from headwater.testing.server import serve
from tests.http.support import make_settings
from tests.plugins.support import fake_distribution

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plugin_hello"


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
    assert (plugin.name, plugin.version) == ("hello", "0.1.0")
    # It came from the installed copy, through the entry point group.
    assert str(on_path) in str(sys.modules["plugin_hello"].__file__)
    app = create_app(make_settings(tmp_path), plugins=[InstalledPlugins([plugin])])
    with TestClient(app) as client:
        response = client.get("/plugins/hello")
        listing = client.get("/plugins").json()["data"]
        widgets = app.state.runtime.services["widgets"]
    assert response.status_code == 200
    assert response.json()["data"] == {
        "message": "bonjour, world",
        "plugin": "hello",
        "version": "0.1.0",
    }
    assert listing[0]["widgets"] == [
        {
            "name": "hello.greeting",
            "title": "Greeting",
            "data_route": "/plugins/hello",
            "kind": "text",
        }
    ]
    assert [w.plugin for w in widgets] == ["hello"]


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


@pytest.mark.slow
def test_headwater_serve_discovers_the_installed_plugin(installed: Path, tmp_path: Path) -> None:
    env = {
        "PYTHONPATH": str(installed),
        "HEADWATER_PLUGIN_HELLO_GREETING": "hallo",
        "HEADWATER_RATE_LIMITS": "false",
    }
    with serve(
        f"sqlite:///{tmp_path / 'serve.db'}",
        workdir=tmp_path,
        apps=["headwater.plugins:InstalledPlugins"],
        env=env,
    ) as server:
        response = httpx.get(f"{server.url}/plugins/hello", timeout=5)
    assert response.status_code == 200
    assert response.json()["data"]["message"] == "hallo, world"


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
