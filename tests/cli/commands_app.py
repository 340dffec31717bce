"""An app module with CLI commands, loaded by ``HEADWATER_APPS`` in the CLI tests."""

from __future__ import annotations

from typing import ClassVar

import typer

from headwater.modules import Module


class ToolApp(Module):
    name: ClassVar[str] = "tool"

    def cli(self) -> typer.Typer:
        commands = typer.Typer(help="The tool app's commands.")

        @commands.command()
        def hello(name: str = "world") -> None:
            typer.echo(f"tool says hello to {name}")

        @commands.command()
        def version() -> None:
            typer.echo("1")

        return commands


module = ToolApp()
