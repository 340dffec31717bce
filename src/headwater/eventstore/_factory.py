"""Backends chosen by URL, in one place."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from headwater.errors import UnknownBackend
from headwater.eventstore._protocol import EventStore
from headwater.eventstore._timeouts import PostgresTimeouts

SQLITE_SCHEMES = frozenset({"sqlite"})
POSTGRES_SCHEMES = frozenset({"postgresql", "postgres", "postgresql+psycopg"})


def sqlite_path(url: str) -> str:
    """``sqlite:///rel.db`` -> ``rel.db``; ``sqlite:////abs.db`` -> ``/abs.db``."""
    parts = urlsplit(url)
    if parts.netloc:
        raise UnknownBackend(f"a sqlite URL has no host: use sqlite:///path.db, not {url!r}")
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not path:
        raise UnknownBackend(f"a sqlite URL needs a path or :memory:, got {url!r}")
    return path


def postgres_options(url: str) -> tuple[str, str]:
    """Split our own ``schema`` option off a PostgreSQL URL: (conninfo URL, schema)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    schema = query.pop("schema", ["public"])[-1]
    rest = "&".join(f"{k}={v}" for k, values in query.items() for v in values)
    scheme = "postgresql"
    conninfo = f"{scheme}://{parts.netloc}{parts.path}" + (f"?{rest}" if rest else "")
    return conninfo, schema


async def create_event_store(
    url: str,
    *,
    migrate: bool | None = None,
    postgres_timeouts: PostgresTimeouts | None = None,
    append_timeout: float | None = None,
    **options: Any,
) -> EventStore:
    """Open the event store named by ``url``.

    ``migrate`` creates or upgrades the schema first; it defaults to on for SQLite
    (the embedded default) and off for PostgreSQL, where ``headwater migrate`` runs
    once for every node. ``postgres_timeouts`` bound every PostgreSQL call, and
    ``append_timeout`` (None: the timeouts' own) how long an append waits for its
    commit before it fails as ``AppendIndeterminate``; SQLite, on a local file, has no
    link to lose and ignores both.
    """
    if not isinstance(url, str) or "://" not in url:
        raise UnknownBackend(f"not a database URL: {url!r}")
    scheme = url.split("://", 1)[0].lower()
    if scheme in SQLITE_SCHEMES:
        from headwater.eventstore._sqlite import SqliteEventStore

        return await SqliteEventStore.open(
            sqlite_path(url), migrate=True if migrate is None else migrate, **options
        )
    if scheme in POSTGRES_SCHEMES:
        try:
            from headwater.eventstore._postgres import PostgresEventStore
        except ImportError as exc:  # pragma: no cover - depends on installed extras
            raise UnknownBackend(
                "PostgreSQL support needs the extra: pip install 'headwater[postgres]'"
            ) from exc
        conninfo, schema = postgres_options(url)
        if append_timeout is not None:
            options["append_timeout"] = append_timeout
        return await PostgresEventStore.open(
            conninfo,
            schema=schema,
            migrate=bool(migrate),
            timeouts=postgres_timeouts,
            **options,
        )
    raise UnknownBackend(
        f"unknown database URL scheme {scheme!r}: use sqlite:///path.db, "
        "sqlite:///:memory: or postgresql://..."
    )
