"""Mount modules' typer sub-apps on the ``headwater`` command: ``headwater <name> ...``.

The ``cli`` hook is ``Module``'s, so an app (``HEADWATER_APPS``) mounts its commands
the same way an installed plugin does."""

from __future__ import annotations

from collections.abc import Iterable

import typer

from headwater.errors import PluginError
from headwater.modules import Module

#: Commands a plugin may not shadow.
RESERVED = frozenset(
    {
        "serve",
        "migrate",
        "demo",
        "worker",
        "jobs",
        "projections",
        "create-admin",
        "backup",
        "erase",
    }
)


def mount_plugin_cli(app: typer.Typer, plugins: Iterable[Module]) -> list[str]:
    """Add each module's sub-app under its name; returns the names mounted."""
    mounted: list[str] = []
    for plugin in plugins:
        sub = plugin.cli()
        if sub is None:
            continue
        if plugin.name in RESERVED:
            raise PluginError(plugin.name, "add its CLI", "its name is a built-in command")
        app.add_typer(sub, name=plugin.name, help=f"{plugin.name} {plugin.version}")
        mounted.append(plugin.name)
    return mounted
