"""Settings, read once (from ``HEADWATER_*`` variables or given as an object) and passed down.

No other module reads the environment.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEADWATER_", frozen=True, extra="forbid")

    #: ``sqlite:///path.db``, ``sqlite:///:memory:`` or ``postgresql://...``
    database_url: str = "sqlite:///var/headwater.db"
    #: ``redis://...`` to share caches and rate limits across nodes; None for one process.
    redis_url: str | None = None
    #: Create or upgrade the schema at start-up. Defaults to on for SQLite only:
    #: several PostgreSQL nodes should be migrated once, by ``headwater migrate``.
    auto_migrate: bool | None = None

    @classmethod
    def from_env(cls) -> Settings:
        return cls()
