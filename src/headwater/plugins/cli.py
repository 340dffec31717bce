"""Mount plugins' typer sub-apps on the ``headwater`` command: ``headwater <plugin> ...``."""

from __future__ import annotations

from collections.abc import Iterable

import typer

from headwater.errors import PluginError
from headwater.modules import Module
from headwater.plugins.plugin import Plugin

#: Commands a plugin may not shadow.
RESERVED = frozenset({"serve", "migrate", "demo", "worker", "jobs", "projections", "create-admin"})


def mount_plugin_cli(app: typer.Typer, plugins: Iterable[Module]) -> list[str]:
    """Add each plugin's sub-app under its name; returns the names mounted."""
    mounted: list[str] = []
    for plugin in plugins:
        if not isinstance(plugin, Plugin):
            continue
        sub = plugin.cli()
        if sub is None:
            continue
        if plugin.name in RESERVED:
            raise PluginError(plugin.name, "add its CLI", "its name is a built-in command")
        app.add_typer(sub, name=plugin.name, help=f"{plugin.name} {plugin.version} (plugin)")
        mounted.append(plugin.name)
    return mounted
