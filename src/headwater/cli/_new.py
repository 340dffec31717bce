"""``headwater new NAME``: a working app package from the templates shipped in the wheel.

The templates (``_templates/app``) are files, not modules: each ends in ``.tmpl`` so no
tool imports or checks them as they stand, and ``__name__`` in a path is the new app's
name. ``${name}`` inside a file is replaced by it (``string.Template``: the templates
hold no other ``$``). The folder made passes its own tests and serves at once.
"""

from __future__ import annotations

import keyword
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template
from typing import Annotated

import typer

from headwater.errors import InvalidInput

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: Names that would shadow what the app imports or its tests folder.
_TAKEN = frozenset({"headwater", "tests", "test", "fastapi", "pydantic", "httpx", "apps"})


def check_name(name: str) -> str:
    if not _NAME.match(name) or keyword.iskeyword(name) or name in _TAKEN:
        raise InvalidInput(
            f"{name!r} cannot name an app: use a lower-case Python identifier "
            "(letters, digits, underscores; not a keyword or a package the app imports)"
        )
    return name


def scaffold(name: str, target: Path) -> list[Path]:
    """Write the app ``name`` into ``target`` (which must not exist or be empty)."""
    check_name(name)
    if target.exists() and any(target.iterdir()):
        raise InvalidInput(f"{target} exists and is not empty")
    written: list[Path] = []
    _copy(resources.files("headwater.cli") / "_templates" / "app", target, name, written)
    return written


def _copy(source: Traversable, target: Path, name: str, written: list[Path]) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        out_name = entry.name.replace("__name__", name).removesuffix(".tmpl")
        if entry.is_dir():
            _copy(entry, target / out_name, name, written)
            continue
        text = Template(entry.read_text("utf-8")).substitute(name=name)
        path = target / out_name
        path.write_text(text, "utf-8")
        written.append(path)


def new(
    name: Annotated[str, typer.Argument(help="The app's package name, e.g. todo.")],
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where to create it (default: ./NAME).")
    ] = None,
) -> None:
    """Create a working app package: aggregate, commands, projection, routes, topic, job, tests."""
    target = directory if directory is not None else Path(name)
    try:
        written = scaffold(name, target)
    except InvalidInput as exc:
        typer.echo(f"headwater new: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"created {name} in {target} ({len(written)} files)")
    typer.echo(f"  cd {target}")
    typer.echo("  pytest                                   # its tests serve it for real")
    typer.echo(f"  headwater dev --app {name}.module:module  # run it with a dev tenant and users")
