"""Plugins: modules found through the ``headwater.plugins`` entry-point group or given.

``Plugin`` extends ``Module`` with settings, live event handlers and projections;
``InstalledPlugins`` serves every discovered plugin with every ``Module`` hook.
"""

from __future__ import annotations

from headwater.errors import PluginError
from headwater.plugins._cli import mount_plugin_cli
from headwater.plugins._discovery import GROUP, discover_plugins
from headwater.plugins._installed import InstalledPlugins
from headwater.plugins._plugin import EventHandler, Plugin, env_prefix

__all__ = [
    "GROUP",
    "EventHandler",
    "InstalledPlugins",
    "Plugin",
    "PluginError",
    "discover_plugins",
    "env_prefix",
    "mount_plugin_cli",
]
