"""Discovery through the ``headwater.plugins`` entry-point group; broken plugins are named."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from headwater.app import create_app
from headwater.plugins import InstalledPlugins, Plugin, PluginError, discover_plugins
from tests.http.support import make_settings
from tests.plugins.support import fake_distribution

GOOD = """
from fastapi import APIRouter
from pydantic import BaseModel
from headwater.plugins import Plugin


class Settings(BaseModel):
    size: int = 1


class Good(Plugin):
    name = "good"
    version = "2.0.0"
    settings_model = Settings

    def routers(self):
        router = APIRouter()

        @router.get("/plugins/good")
        async def size() -> dict:
            return {"size": self.settings.size}

        return [router]
"""

FAILS_TO_START = """
from headwater.plugins import Plugin


class Starter(Plugin):
    name = "starter"

    async def on_start(self, runtime):
        raise RuntimeError("cannot reach the billing API")
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh folder on sys.path; modules imported from it are forgotten afterwards."""
    root = tmp_path / f"site_{uuid.uuid4().hex[:8]}"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    before = set(sys.modules)
    yield root
    for name in set(sys.modules) - before:
        if getattr(sys.modules[name], "__file__", "") and str(root) in str(
            sys.modules[name].__file__
        ):
            del sys.modules[name]


def module_name(stem: str) -> str:
    return f"{stem}_{uuid.uuid4().hex[:8]}"


def test_an_entry_point_plugin_is_discovered_with_settings_from_the_environment(
    site: Path, tmp_path: Path
) -> None:
    mod = module_name("good_plugin")
    fake_distribution(site, "good-plugin", {"good": f"{mod}:Good"}, {mod: GOOD})
    (plugin,) = discover_plugins({"HEADWATER_PLUGIN_GOOD_SIZE": "7"}, only=["good"])
    assert isinstance(plugin, Plugin)
    assert (plugin.name, plugin.version) == ("good", "2.0.0")
    app = create_app(make_settings(tmp_path), plugins=[InstalledPlugins([plugin])])
    with TestClient(app) as client:
        assert client.get("/plugins/good").json() == {"size": 7}
        listed = client.get("/plugins").json()["data"]
    assert listed == [{"name": "good", "version": "2.0.0"}]


def test_a_plugin_that_cannot_be_imported_is_named(site: Path) -> None:
    fake_distribution(site, "broken-plugin", {"broken": "no_such_module_xyz:Plugin"})
    with pytest.raises(PluginError) as caught:
        discover_plugins({}, only=["broken"])
    message = str(caught.value)
    assert message.startswith("plugin 'broken' failed to load")
    assert "broken-plugin" in message
    assert "no_such_module_xyz" in message


def test_a_plugin_with_bad_settings_is_named(site: Path) -> None:
    mod = module_name("good_plugin")
    fake_distribution(site, "good-plugin", {"good": f"{mod}:Good"}, {mod: GOOD})
    with pytest.raises(PluginError, match=r"plugin 'good' failed to configure") as caught:
        discover_plugins({"HEADWATER_PLUGIN_GOOD_SIZE": "many"}, only=["good"])
    assert "HEADWATER_PLUGIN_GOOD_" in str(caught.value)


def test_an_entry_point_that_is_not_a_module_is_named(site: Path) -> None:
    mod = module_name("not_plugin")
    fake_distribution(site, "odd", {"odd": f"{mod}:thing"}, {mod: "thing = 42\n"})
    with pytest.raises(PluginError, match=r"plugin 'odd' failed to load: .*not a headwater Module"):
        discover_plugins({}, only=["odd"])


def test_a_plugin_that_fails_to_start_stops_start_up_naming_it(site: Path, tmp_path: Path) -> None:
    mod = module_name("starter_plugin")
    fake_distribution(site, "starter", {"starter": f"{mod}:Starter"}, {mod: FAILS_TO_START})
    app = create_app(make_settings(tmp_path), plugins=[InstalledPlugins(environ={})])
    with pytest.raises(PluginError) as caught, TestClient(app):
        pass
    assert str(caught.value) == (
        "plugin 'starter' failed to start: RuntimeError: cannot reach the billing API"
    )
