"""The PostgreSQL pool is sized and timed by settings, with the seed's defaults (max 20, idle
30 s, connect 2 s), and an exhausted pool refuses the next borrower after the acquire timeout."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest
from psycopg_pool import PoolTimeout

from headwater.app import create_app
from headwater.eventstore._postgres import PostgresEventStore
from headwater.settings import Settings
from tests.http.support import make_settings

pytestmark = pytest.mark.anyio


def test_the_defaults_are_the_seed_values() -> None:
    settings = Settings()
    assert settings.database_pool_max_size == 20
    assert settings.database_pool_min_size == 1
    assert settings.database_pool_idle_timeout == 30.0
    assert settings.database_connect_timeout == 2.0


def test_a_minimum_above_the_maximum_is_refused() -> None:
    with pytest.raises(ValueError, match="database_pool_min_size"):
        Settings(database_pool_min_size=5, database_pool_max_size=4)


def test_pool_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_DATABASE_POOL_MAX_SIZE", "7")
    monkeypatch.setenv("HEADWATER_DATABASE_POOL_IDLE_TIMEOUT", "12.5")
    settings = Settings.from_env()
    assert settings.database_pool_max_size == 7
    assert settings.database_pool_idle_timeout == 12.5


async def test_the_settings_reach_the_postgres_pool(tmp_path: Path, postgres_url: str) -> None:
    settings = make_settings(
        tmp_path,
        database_url=postgres_url,
        auto_migrate=True,
        database_pool_max_size=3,
        database_pool_min_size=2,
        database_pool_idle_timeout=7.0,
        database_connect_timeout=1.5,
        database_pool_timeout=0.4,
    )
    app = create_app(settings, core=[])
    async with app.router.lifespan_context(app):
        store = app.state.runtime.store
        assert isinstance(store, PostgresEventStore)
        pool = store._pool._pool  # the psycopg pool under the store's wrapper
        assert (pool.min_size, pool.max_size) == (2, 3)
        assert pool.max_idle == 7.0
        assert pool.timeout == 0.4
        assert store.timeouts.connect == 1.5
        # The minimum is opened at start (psycopg fills the pool in the background).
        deadline = time.monotonic() + 5
        while store._pool.stats()["pool_size"] < 2 and time.monotonic() < deadline:
            await store.head_position()
        assert store._pool.stats()["pool_size"] >= 2
        # Every connection lent: the next borrower waits the acquire timeout, no longer.
        async with contextlib.AsyncExitStack() as held:
            for _ in range(3):
                await held.enter_async_context(store._pool.connection())
            started = time.monotonic()
            with pytest.raises(PoolTimeout):
                async with store._pool.connection():
                    pass
            waited = time.monotonic() - started
        assert 0.3 <= waited < 3.0
