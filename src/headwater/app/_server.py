"""The app that ``headwater serve`` runs: settings from the environment, apps by import path."""

from __future__ import annotations

import importlib

from fastapi import FastAPI

from headwater.app import create_app
from headwater.app._profiles import describe, refuses_to_start
from headwater.errors import InvalidInput
from headwater.modules import Module
from headwater.settings import Settings


def load_module(path: str) -> Module:
    """``package.module:attribute`` -> the Module instance (or class, instantiated)."""
    module_name, _, attribute = path.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attribute or "module")
    except (ImportError, AttributeError) as exc:
        raise InvalidInput(f"cannot load app {path!r}: {exc}") from exc
    if isinstance(found, type) and issubclass(found, Module):
        found = found()
    if not isinstance(found, Module):
        raise InvalidInput(f"{path!r} is not a headwater Module")
    return found


def build_from_env() -> FastAPI:
    from headwater.plugins import InstalledPlugins

    settings = Settings.from_env()
    refused = refuses_to_start(settings)
    if refused:
        # Also here, not only in the command: uvicorn may be pointed at this factory.
        raise InvalidInput(
            "refusing to start production with an unsafe configuration:\n"
            + describe(refused, settings)
        )
    plugins: list[Module] = (
        [InstalledPlugins(only=settings.plugins)] if settings.discover_plugins else []
    )
    return create_app(settings, plugins=plugins, apps=[load_module(p) for p in settings.apps])
