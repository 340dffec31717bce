"""Backends are chosen by URL in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from headwater.errors import UnknownBackend
from headwater.eventstore import NewEvent, create_event_store
from headwater.eventstore._factory import postgres_options, sqlite_path

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///events.db", "events.db"),
        ("sqlite:///var/events.db", "var/events.db"),
        ("sqlite:////tmp/events.db", "/tmp/events.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_path_follows_the_three_and_four_slash_convention(url: str, path: str) -> None:
    assert sqlite_path(url) == path


@pytest.mark.parametrize("url", ["sqlite://host/events.db", "sqlite:///", "sqlite://"])
def test_sqlite_url_with_a_host_or_without_a_path_raises_unknown_backend(url: str) -> None:
    with pytest.raises(UnknownBackend):
        sqlite_path(url)


@pytest.mark.parametrize(
    ("url", "conninfo", "schema"),
    [
        (
            "postgresql://u:p@db:5432/app",
            "postgresql://u:p@db:5432/app",
            "public",
        ),
        (
            "postgresql://u@db/app?schema=tenant_7",
            "postgresql://u@db/app",
            "tenant_7",
        ),
        (
            "postgres://db/app?sslmode=require&schema=s1&application_name=hw",
            "postgresql://db/app?sslmode=require&application_name=hw",
            "s1",
        ),
        (
            "postgresql+psycopg://db/app?schema=a&schema=b",
            "postgresql://db/app",
            "b",
        ),
    ],
)
def test_postgres_options_split_the_schema_off_the_conninfo(
    url: str, conninfo: str, schema: str
) -> None:
    assert postgres_options(url) == (conninfo, schema)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://db/app",
        "redis://localhost:6379/0",
        "sqlite3:///events.db",
        "events.db",
        "",
        "://nothing",
        None,
        42,
    ],
)
async def test_unknown_url_raises_unknown_backend(url: Any) -> None:
    with pytest.raises(UnknownBackend):
        await create_event_store(url)


@pytest.mark.parametrize("scheme", ["sqlite", "SQLite"])
async def test_sqlite_url_opens_a_migrated_sqlite_store(tmp_path: Path, scheme: str) -> None:
    path = tmp_path / "events.db"
    async with await create_event_store(f"{scheme}:///{path}") as store:
        assert store.dialect == "sqlite"
        assert await store.head_position() == 0
    assert path.exists()


async def test_memory_url_opens_a_private_sqlite_store() -> None:
    first = await create_event_store("sqlite:///:memory:")
    second = await create_event_store("sqlite:///:memory:")
    try:
        await first.append("s", [NewEvent("Happened", {})])
        assert await first.head_position() == 1
        assert await second.head_position() == 0
    finally:
        await first.close()
        await second.close()


@pytest.mark.postgres
async def test_postgres_url_opens_a_postgres_store_in_its_schema(postgres_url: str) -> None:
    async with await create_event_store(postgres_url, migrate=True) as store:
        assert store.dialect == "postgresql"
        assert await store.head_position() == 0


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgres", "postgresql+psycopg"])
async def test_postgres_scheme_aliases_open_a_postgres_store(
    postgres_url: str, scheme: str
) -> None:
    url = scheme + postgres_url[postgres_url.index("://") :]
    async with await create_event_store(url, migrate=True) as store:
        assert store.dialect == "postgresql"
