"""Configuration profiles: what development, staging and production each require of settings.

``check_settings(settings)`` lists every problem of a configuration, each with the
setting to change and a sentence saying why; ``headwater config check`` prints them
and ``headwater serve`` refuses to start production while any is an error. The
rules read only ``Settings``: a check must be as true on a build machine as on the
node, without a database or a network.

Development asks nothing (the embedded default runs as it is). Staging and
production are shared deployments: secrets set, cookies and HSTS on, rate limits on,
no test shortcuts, and several nodes only on shared storage. Staging reports the
same findings as warnings, so a rehearsal shows what production would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from headwater.settings import Settings

Severity = Literal["error", "warning"]

#: Shortest bootstrap admin password accepted outside development.
MIN_ADMIN_PASSWORD: Final = 12
#: Shortest secret key accepted outside development (bytes of text).
MIN_SECRET_KEY: Final = 32


@dataclass(frozen=True, slots=True)
class Problem:
    #: The ``HEADWATER_*`` variable to change.
    setting: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.setting}: {self.message}"


def check_settings(settings: Settings) -> list[Problem]:
    """Every problem of ``settings`` for its profile (``settings.env``), errors first."""
    if settings.env == "development":
        return []
    found = [*_secrets(settings), *_transport(settings), *_storage(settings)]
    found += _limits(settings)
    if settings.env == "staging":
        found = [Problem(p.setting, p.message, "warning") for p in found]
    return sorted(found, key=lambda p: p.severity != "error")


def refuses_to_start(settings: Settings) -> list[Problem]:
    """The errors that stop ``headwater serve`` (production only)."""
    if settings.env != "production":
        return []
    return [p for p in check_settings(settings) if p.severity == "error"]


def _secrets(settings: Settings) -> list[Problem]:
    found: list[Problem] = []
    key = settings.secret_key
    if key is None:
        found.append(
            Problem(
                "HEADWATER_SECRET_KEY",
                "is not set: the generated key in the data directory is one node's, lost "
                "with its disk, and every token and cursor signed with it goes with it",
            )
        )
    elif len(key.get_secret_value()) < MIN_SECRET_KEY:
        found.append(
            Problem(
                "HEADWATER_SECRET_KEY",
                f"is shorter than {MIN_SECRET_KEY} characters: too easy to guess",
            )
        )
    password = settings.bootstrap_admin_password
    if password is not None and len(password.get_secret_value()) < MIN_ADMIN_PASSWORD:
        found.append(
            Problem(
                "HEADWATER_BOOTSTRAP_ADMIN_PASSWORD",
                f"is shorter than {MIN_ADMIN_PASSWORD} characters for a platform admin",
            )
        )
    if settings.fast_password_hashing:
        found.append(
            Problem(
                "HEADWATER_FAST_PASSWORD_HASHING",
                "is on: passwords would be hashed cheaply (for tests and the demo only)",
            )
        )
    if settings.metrics_token is None:
        found.append(
            Problem(
                "HEADWATER_METRICS_TOKEN",
                "is not set: /metrics is open to anyone who can reach the node",
                "warning",
            )
        )
    return found


def _transport(settings: Settings) -> list[Problem]:
    found: list[Problem] = []
    if settings.cookie_secure is False:
        found.append(
            Problem(
                "HEADWATER_COOKIE_SECURE",
                "is false: session cookies would also be sent over plain HTTP",
            )
        )
    if not settings.hsts:
        found.append(Problem("HEADWATER_HSTS", "is false: browsers are not told to keep to HTTPS"))
    if "*" in settings.cors_origins:
        found.append(Problem("HEADWATER_CORS_ORIGINS", 'allows "*": any site could call the API'))
    for origin in settings.cors_origins:
        if origin.startswith("http://") and not origin.startswith(
            ("http://localhost", "http://127.0.0.1")
        ):
            found.append(Problem("HEADWATER_CORS_ORIGINS", f"allows {origin}, a plain-HTTP origin"))
    if settings.log_level.upper() == "DEBUG":
        found.append(
            Problem("HEADWATER_LOG_LEVEL", "is DEBUG: verbose and may log payloads", "warning")
        )
    return found


def _storage(settings: Settings) -> list[Problem]:
    found: list[Problem] = []
    url = settings.database_url
    sqlite = url.startswith("sqlite")
    if sqlite and ":memory:" in url:
        found.append(
            Problem("HEADWATER_DATABASE_URL", "is an in-memory database: every restart loses it")
        )
    if settings.nodes > 1:
        if sqlite:
            found.append(
                Problem(
                    "HEADWATER_DATABASE_URL",
                    f"is SQLite with {settings.nodes} nodes: a SQLite file belongs to one "
                    "node; several need PostgreSQL",
                )
            )
        if settings.redis_url is None:
            found.append(
                Problem(
                    "HEADWATER_REDIS_URL",
                    f"is not set with {settings.nodes} nodes: caches and rate limits "
                    "would be per node (each node would allow the full limit)",
                )
            )
    if not sqlite and settings.auto_migrate and settings.nodes > 1:
        found.append(
            Problem(
                "HEADWATER_AUTO_MIGRATE",
                "is on with several nodes: run `headwater migrate` once per deploy instead",
                "warning",
            )
        )
    return found


def _limits(settings: Settings) -> list[Problem]:
    if settings.rate_limits:
        return []
    return [
        Problem(
            "HEADWATER_RATE_LIMITS",
            "is off: nothing limits how fast a client may call (logins included)",
        )
    ]


def describe(problems: list[Problem], settings: Settings) -> str:
    """What ``config check`` and a refused ``serve`` print: one line per problem."""
    if not problems:
        return f"configuration OK for {settings.env}"
    errors = sum(1 for p in problems if p.severity == "error")
    head = f"{errors} error(s), {len(problems) - errors} warning(s) for {settings.env}:"
    return "\n".join([head, *(f"  {p}" for p in problems)])
