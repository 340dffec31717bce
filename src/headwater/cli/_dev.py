"""``headwater dev``: an app on SQLite with a tenant and signed-in users, in one command.

What a first run otherwise takes by hand (migrate, create a platform admin, sign in,
create a tenant, act for it, create an account, sign in as it) is done at start by
:class:`DevBootstrap`, a module served after the apps: it makes the accounts that are
missing and prints the URLs, the password and a bearer token for each. The password
is generated once and kept beside the database (``dev-credentials.json``), so a
restart signs in the same users.

Development only, by construction: it refuses PostgreSQL (a shared database is no
place for printed passwords) and an environment that says production.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final

import typer

from headwater.errors import InvalidInput
from headwater.identity._principal import Role
from headwater.modules import Module
from headwater.runtime import Runtime
from headwater.settings import Settings

ADMIN_EMAIL: Final = "admin@example.com"
OWNER_EMAIL: Final = "owner@example.com"
TENANT_NAME: Final = "Development"
#: ``HEADWATER_ENV`` values that mean "not a developer's machine".
PRODUCTION: Final = frozenset({"production", "prod", "live"})
#: How long the printed tokens stay valid (unless HEADWATER_ACCESS_TOKEN_SECONDS says).
TOKEN_SECONDS: Final = 24 * 3600
_METADATA: Final = {"actor": "system", "actor_kind": "headwater-dev"}


def refusal(url: str, environment: str | None) -> str | None:
    """Why ``headwater dev`` must not run here, in one sentence (None: it may)."""
    if environment is not None and environment.strip().lower() in PRODUCTION:
        return (
            f"headwater dev refuses to run with HEADWATER_ENV={environment}: it creates "
            "accounts and prints their passwords; use headwater serve."
        )
    if not url.startswith("sqlite:"):
        scheme = url.split(":", 1)[0]
        return (
            f"headwater dev runs on SQLite only, and the database URL is {scheme}: "
            "use headwater migrate and headwater serve for it."
        )
    return None


@dataclass(frozen=True)
class Credentials:
    password: str

    @classmethod
    def kept_in(cls, path: Path) -> Credentials:
        """The password kept in ``path``, made (and written, owner-only) if missing."""
        if path.exists():
            return cls(password=json.loads(path.read_text("utf-8"))["password"])
        path.parent.mkdir(parents=True, exist_ok=True)
        credentials = cls(password=secrets.token_urlsafe(12))
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump({"password": credentials.password}, out)
        return credentials


class DevBootstrap(Module):
    """Makes the development accounts and tenant at start, then says how to use them."""

    name = "headwater-dev"

    def __init__(self) -> None:
        self.base_url = "http://127.0.0.1:8000"
        self.credentials_path = Path("var/dev-credentials.json")
        self.report: str | None = None

    async def start(self, runtime: Runtime) -> None:
        security = runtime.require_security()
        password = Credentials.kept_in(self.credentials_path).password
        await security.ensure_platform_admin(ADMIN_EMAIL, password)
        owner = await security.accounts.find_by_email(OWNER_EMAIL)
        if owner is None:
            tenant = await security.tenants.create(TENANT_NAME, metadata=_METADATA)
            owner = await security.create_account(
                tenant_id=tenant.tenant_id,
                email=OWNER_EMAIL,
                password=password,
                roles=[Role.TENANT_ADMIN],
                tier="user",
                display_name="Development owner",
                metadata=_METADATA,
            )
        try:
            admin_token = (await security.login(ADMIN_EMAIL, password)).access_token
            owner_token = (await security.login(OWNER_EMAIL, password)).access_token
        except Exception as exc:  # the database outlived its credentials file
            raise InvalidInput(
                f"the development accounts in this database do not take the password in "
                f"{self.credentials_path}: delete the database (or restore that file)"
            ) from exc
        self.report = "\n".join(
            [
                "",
                "Headwater development server (SQLite, auto-migrated; never for production)",
                f"  API        {self.base_url}/docs",
                f"  dashboard  {self.base_url}/admin",
                f"  tenant     {TENANT_NAME} ({owner.tenant_id})",
                f"  password   {password}   (kept in {self.credentials_path})",
                f"  platform admin  {ADMIN_EMAIL}",
                f"    Authorization: Bearer {admin_token}",
                f"  tenant admin    {OWNER_EMAIL}",
                f"    Authorization: Bearer {owner_token}",
                "  try: curl -H 'Authorization: Bearer <tenant admin token>' "
                f"{self.base_url}/auth/me",
                "",
            ]
        )
        typer.echo(self.report)


#: The instance ``headwater dev`` configures and serves (``load_module`` finds it by path).
bootstrap = DevBootstrap()
BOOTSTRAP_PATH: Final = "headwater.cli._dev:bootstrap"

AppPath = Annotated[
    list[str] | None,
    typer.Option("--app", help="An app to serve, as package.module:attribute (repeatable)."),
]


def dev(
    app_path: AppPath = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    url: Annotated[
        str | None,
        typer.Option(
            "--url", help="A SQLite URL (default: HEADWATER_DATABASE_URL, or var/dev.db)."
        ),
    ] = None,
) -> None:
    """Run apps on SQLite with a development tenant and signed-in users, and print them."""
    from headwater.cli._main import serve

    settings = Settings.from_env()
    explicit = url or os.environ.get("HEADWATER_DATABASE_URL")
    database_url = explicit or f"sqlite:///{settings.data_dir / 'dev.db'}"
    why_not = refusal(database_url, os.environ.get("HEADWATER_ENV"))
    if why_not is not None:
        typer.echo(why_not, err=True)
        raise typer.Exit(2)
    # Settings are read from the environment by the app factory (as for serve).
    os.environ["HEADWATER_AUTO_MIGRATE"] = "true"
    os.environ["HEADWATER_HSTS"] = "false"
    os.environ.setdefault("HEADWATER_ACCESS_TOKEN_SECONDS", str(TOKEN_SECONDS))
    bootstrap.base_url = f"http://{host}:{port}"
    bootstrap.credentials_path = settings.data_dir / "dev-credentials.json"
    apps = list(app_path) if app_path else list(settings.apps)
    serve(host=host, port=port, url=database_url, app_path=[*apps, BOOTSTRAP_PATH])
