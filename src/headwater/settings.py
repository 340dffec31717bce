"""Settings, read once (from ``HEADWATER_*`` variables or given as an object) and passed down.

No other module reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PROFILE_ALIASES = {
    "dev": "development",
    "stage": "staging",
    "prod": "production",
    "live": "production",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEADWATER_", frozen=True, extra="forbid")

    #: The profile: ``development``, ``staging`` or ``production``. ``headwater config
    #: check`` holds staging and production to the rules of a shared deployment, and
    #: ``headwater serve`` refuses to start production with an unsafe configuration.
    env: Literal["development", "staging", "production"] = "development"
    #: Nodes that serve this configuration together (for ``config check``: several need
    #: PostgreSQL and Redis, not a SQLite file and per-process limits).
    nodes: int = Field(default=1, ge=1, le=10_000)

    #: ``sqlite:///path.db``, ``sqlite:///:memory:`` or ``postgresql://...``
    database_url: str = "sqlite:///var/headwater.db"
    #: ``redis://...`` to share caches and rate limits across nodes; None for one process.
    redis_url: str | None = None
    #: Create or upgrade the schema at start-up. Defaults to on for SQLite only:
    #: several PostgreSQL nodes should be migrated once, by ``headwater migrate``.
    auto_migrate: bool | None = None
    #: PostgreSQL: seconds an append may wait for its commit before it fails as
    #: indeterminate (503; a retry with the same event ids is safe) and its connection
    #: is discarded; a group commit gets 10 ms more per event it carries (bulk loads).
    #: SQLite appends do not cross a network and take no deadline.
    #: 3 s, like a query's deadline, so a request on a dead link fails within 5 s.
    append_timeout_seconds: float = Field(default=3.0, gt=0, allow_inf_nan=False)

    #: Signs cursors and tokens. Required with PostgreSQL (every node must share it);
    #: the embedded default keeps a generated one in ``data_dir``.
    secret_key: SecretStr | None = None
    #: Where the embedded default keeps its files (database, generated secret).
    data_dir: Path = Path("var")
    #: Import strings of the apps to serve, e.g. ``["apps.qrevent:module"]``.
    apps: list[str] = []
    #: Request bodies larger than this get 413.
    max_body_bytes: int = 1024 * 1024
    #: Request heads under ``headwater serve`` (see ``headwater.http._heads``): bytes of
    #: request line and headers, header fields, seconds to finish a head (from
    #: connecting, or its first byte), seconds an idle keep-alive connection stays open.
    max_head_bytes: int = Field(default=32 * 1024, ge=1024, le=1024 * 1024)
    max_headers: int = Field(default=100, ge=10, le=1000)
    head_timeout: float = Field(default=10.0, gt=0, le=300)
    keepalive_timeout: float = Field(default=5.0, gt=0, le=3600)
    #: Networks (CIDRs or addresses) that calls out may reach besides public addresses,
    #: e.g. ``["127.0.0.1/32"]`` for a demo's local receiver. Empty: public only.
    outbound_allow: list[str] = []
    #: Send Strict-Transport-Security (turn off only for plain-HTTP development).
    hsts: bool = True

    # --- PostgreSQL links (seconds; see ``headwater.eventstore.PostgresTimeouts``) ----
    # The defaults fail a request in a few seconds when the database is unreachable.
    #: Open one connection.
    database_connect_timeout: float = 2.0
    #: Wait for a pooled connection when every one is busy or none can be made (with
    #: the database down: how long a request waits for its 503).
    database_pool_timeout: float = 1.5
    #: One read, query or statement, the wait for its connection included.
    database_query_timeout: float = 3.0
    #: One migration statement.
    database_migration_timeout: float = 300.0
    #: Silence on the LISTEN connection before a heartbeat checks it.
    database_listen_heartbeat: float = 3.0
    #: Unacknowledged data after which the kernel fails a connection.
    database_tcp_user_timeout: float = 5.0
    #: Pooled connections are replaced after this long.
    database_pool_max_lifetime: float = 1800.0
    #: Most pooled connections per node (each node's share of the server's
    #: ``max_connections``; the LISTEN connection and the writer's are apart from it).
    database_pool_max_size: int = Field(default=20, ge=1, le=1000)
    #: Connections the pool keeps open even when idle.
    database_pool_min_size: int = Field(default=1, ge=0, le=1000)
    #: Seconds a pooled connection may sit idle before it is closed (down to the
    #: minimum size).
    database_pool_idle_timeout: float = Field(default=30.0, gt=0, allow_inf_nan=False)

    # --- security (None: the defaults in ``headwater.security._config``) ---------------
    access_token_seconds: int | None = None
    refresh_token_seconds: int | None = None
    session_max_seconds: int | None = None
    cookie_session_seconds: int | None = None
    #: How long a node may trust its cached view of a session before re-checking it
    #: (a revocation on another node takes effect within this time).
    revocation_cache_seconds: float | None = None
    cookie_secure: bool | None = None
    #: Origins allowed to call the API from a browser; never "*".
    cors_origins: list[str] = []
    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: SecretStr | None = None
    #: Cheap password hashing, for tests and the demo only.
    fast_password_hashing: bool = False

    # --- observability ---------------------------------------------------------------
    log_level: str = "INFO"
    #: A bearer token required to scrape /metrics (None: open, e.g. behind a firewall).
    metrics_token: SecretStr | None = None
    #: Seconds between alert samples; 0 or None turns periodic alerting off.
    alert_interval: float | None = 15.0
    #: A JSON file of alert rules (a list of rule objects, see the alerting how-to)
    #: evaluated besides the built-in ones; a rule named like a built-in replaces it.
    alert_rules_file: str | None = None
    #: Notification channels (each optional). A signed webhook: its URL and secret.
    alert_webhook_url: str | None = None
    alert_webhook_secret: SecretStr | None = None
    #: A Slack-compatible incoming webhook (JSON ``{"text": ...}``).
    alert_slack_url: SecretStr | None = None
    #: Email over SMTP: the server, the sender and the recipients; login and STARTTLS
    #: when the server needs them.
    alert_email_host: str | None = None
    alert_email_port: int = 25
    alert_email_from: str = "headwater@localhost"
    alert_email_to: list[str] = []
    alert_email_username: str | None = None
    alert_email_password: SecretStr | None = None
    alert_email_starttls: bool = False
    #: Keep a downsampled history of the node's figures in the database (10 s points
    #: for an hour, 1 min points for a day).
    metric_history: bool = True

    # --- plugins -----------------------------------------------------------------------
    #: Load plugins installed under the ``headwater.plugins`` entry-point group.
    discover_plugins: bool = True
    #: Entry-point names allowed to load (None: every installed plugin).
    plugins: list[str] | None = None

    # --- rate limits -------------------------------------------------------------------
    #: Enforce the tier and endpoint limits. Off only for tests that are not about them.
    rate_limits: bool = True

    @field_validator("env", mode="before")
    @classmethod
    def _profile_alias(cls, value: object) -> object:
        # The short names operators type (and ``headwater dev`` has always refused).
        if isinstance(value, str):
            text = value.strip().lower()
            return _PROFILE_ALIASES.get(text, text)
        return value

    @model_validator(mode="after")
    def _pool_sizes_agree(self) -> Self:
        if self.database_pool_min_size > self.database_pool_max_size:
            raise ValueError("database_pool_min_size must not exceed database_pool_max_size")
        return self

    @classmethod
    def from_env(cls) -> Settings:
        return cls()
