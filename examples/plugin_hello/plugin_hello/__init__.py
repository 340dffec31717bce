"""An example Headwater plugin: a route, settings, a dashboard widget and a CLI command."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from headwater.plugins import Plugin, Widget

__version__ = "0.1.0"


class HelloSettings(BaseModel):
    """Read from ``HEADWATER_PLUGIN_HELLO_*`` (e.g. ``HEADWATER_PLUGIN_HELLO_GREETING``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    greeting: str = "hello"
    audience: str = "world"


class HelloPlugin(Plugin):
    name = "hello"
    version = __version__
    settings_model = HelloSettings

    @property
    def config(self) -> HelloSettings:
        assert isinstance(self.settings, HelloSettings)
        return self.settings

    def routers(self) -> Sequence[APIRouter]:
        router = APIRouter(tags=["hello"])

        @router.get("/plugins/hello")
        async def hello() -> dict[str, Any]:
            return {
                "data": {
                    "message": f"{self.config.greeting}, {self.config.audience}",
                    "plugin": self.name,
                    "version": self.version,
                }
            }

        return [router]

    def widgets(self) -> Sequence[Widget]:
        return [Widget("hello.greeting", "Greeting", "/plugins/hello", kind="text")]

    def cli(self) -> typer.Typer:
        app = typer.Typer(help="Say hello.")

        @app.command()
        def greet(name: str = "world") -> None:
            typer.echo(f"{self.config.greeting}, {name}")

        return app
