"""Find installed plugins through the ``headwater.plugins`` entry-point group.

A package declares its plugin in its ``pyproject.toml``::

    [project.entry-points."headwater.plugins"]
    hello = "plugin_hello:HelloPlugin"

The target is a ``Module`` subclass (a ``Plugin`` is built with settings from
``HEADWATER_PLUGIN_<NAME>_*``) or a ready ``Module`` instance. Discovery is where
the plugin settings are read from the environment, once; every failure (import
error, wrong kind of object, bad settings, two plugins with one name) raises
``PluginError`` naming the entry point and its distribution.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points

from headwater.errors import PluginError
from headwater.modules import Module
from headwater.plugins._plugin import Plugin

GROUP = "headwater.plugins"


def _label(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    name = getattr(dist, "name", None)
    version = getattr(dist, "version", None)
    return f"{ep.name} ({ep.value}" + (f", from {name} {version})" if name else ")")


def load_entry_point(ep: EntryPoint, environ: Mapping[str, str]) -> Module:
    try:
        target = ep.load()
    except Exception as exc:
        raise PluginError(ep.name, "load", f"{_label(ep)}: {type(exc).__name__}: {exc}") from exc
    if isinstance(target, type) and issubclass(target, Plugin):
        return target.from_env(environ)
    if isinstance(target, type) and issubclass(target, Module):
        try:
            return target()
        except Exception as exc:
            raise PluginError(ep.name, "load", f"{_label(ep)}: {exc}") from exc
    if isinstance(target, Module):
        return target
    raise PluginError(ep.name, "load", f"{_label(ep)} is not a headwater Module")


def discover_plugins(
    environ: Mapping[str, str] | None = None,
    *,
    group: str = GROUP,
    only: Iterable[str] | None = None,
) -> list[Module]:
    """Every installed plugin, in entry-point name order (stable across nodes).

    ``only`` restricts discovery to the named entry points (an allow-list for
    deployments that install more packages than they want running).
    """
    env = os.environ if environ is None else environ
    wanted = None if only is None else set(only)
    found: dict[str, Module] = {}
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        if wanted is not None and ep.name not in wanted:
            continue
        plugin = load_entry_point(ep, env)
        if plugin.name in found:
            raise PluginError(plugin.name, "load", f"two plugins are named {plugin.name!r}")
        found[plugin.name] = plugin
    return list(found.values())
