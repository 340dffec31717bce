"""Plugins: modules found through the ``headwater.plugins`` entry-point group or given.

``Plugin`` extends ``Module`` with settings and more hooks (commands, event handlers,
projections, jobs, CLI, widgets); ``InstalledPlugins`` serves every discovered plugin.
"""

from __future__ import annotations

from headwater.errors import PluginError
from headwater.plugins.cli import mount_plugin_cli
from headwater.plugins.discovery import GROUP, discover_plugins
from headwater.plugins.installed import InstalledPlugins
from headwater.plugins.plugin import EventHandler, Plugin, Widget, env_prefix

__all__ = [
    "GROUP",
    "EventHandler",
    "InstalledPlugins",
    "Plugin",
    "PluginError",
    "Widget",
    "discover_plugins",
    "env_prefix",
    "mount_plugin_cli",
]
