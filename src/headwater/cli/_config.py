"""``headwater config check``: validate the configuration in the environment for its profile.

Exit status: 0 when nothing is an error (warnings are printed), 1 when something is,
2 when the settings cannot even be read (a bad value, an unknown profile). CI and a
deploy script can run it before ``headwater serve``, which refuses production on the
same errors.
"""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from headwater.app._profiles import check_settings, describe
from headwater.settings import Settings

app = typer.Typer(no_args_is_help=True)


@app.command()
def check(
    env: Annotated[
        str | None,
        typer.Option("--env", help="Check for this profile instead of HEADWATER_ENV's."),
    ] = None,
) -> None:
    """Print every problem of the configuration for its profile (development, staging,
    production); exit 1 if any is an error."""
    try:
        settings = Settings.from_env()
        if env is not None:
            settings = Settings(**{**settings.model_dump(), "env": env})
    except ValidationError as exc:
        for error in exc.errors():
            where = "_".join(str(part) for part in error["loc"]).upper()
            typer.echo(f"error: HEADWATER_{where}: {error['msg']}", err=True)
        raise typer.Exit(2) from exc
    problems = check_settings(settings)
    typer.echo(describe(problems, settings))
    if any(p.severity == "error" for p in problems):
        raise typer.Exit(1)
