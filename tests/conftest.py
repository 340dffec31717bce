"""Fixtures shared by the whole suite: the backends every contract runs against.

PostgreSQL tests use a real server and a throwaway schema per test. They are
required by default: a missing server fails the run. Set
``HEADWATER_REQUIRE_SERVICES=0`` to skip them instead on a machine without one.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from headwater.testing._redis import (  # noqa: F401 - fixtures shared by the whole suite
    private_redis,
    redis_namespace,
    redis_service,
    redis_url,
)

# Periodic alert sampling would append system alerts into the stores of unrelated tests
# on a busy machine; the alert tests drive evaluation themselves.
os.environ.setdefault("HEADWATER_ALERT_INTERVAL", "0")

POSTGRES_URL = os.environ.get(
    "HEADWATER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_SERVICES = os.environ.get("HEADWATER_REQUIRE_SERVICES", "1") != "0"

BACKENDS = ("sqlite-file", "sqlite-memory", "postgres")


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def _unavailable(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({error}); it is required for this test"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (HEADWATER_REQUIRE_SERVICES=0 skips instead)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium for Playwright (``scripts/ensure-chromium`` installs it)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _unavailable("Chromium (scripts/ensure-chromium installs it)", FileNotFoundError())
    assert path is not None
    return path


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The server URL, checked once; fails (or skips, if allowed) when it is down."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        _unavailable(f"PostgreSQL at {POSTGRES_URL}", exc)
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL for a fresh, empty schema, dropped after the test."""
    schema = f"hw_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{postgres_server}?schema={schema}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> str:
    """A URL for an empty store on each backend in turn."""
    if backend == "sqlite-file":
        return f"sqlite:///{tmp_path_factory.mktemp('store') / 'events.db'}"
    if backend == "sqlite-memory":
        return "sqlite:///:memory:"
    return str(request.getfixturevalue("postgres_url"))
