"""SecurityModule start-up: schema policy, runtime services for the realtime hub, bootstrap."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient

from headwater.app import create_app
from headwater.errors import SchemaNotMigrated
from headwater.eventstore import create_event_store
from headwater.http._security import SecurityModule
from headwater.identity._channels import ChannelRegistry
from headwater.identity._principal import Role
from headwater.jobs import SqlJobQueue
from headwater.runtime import Runtime
from headwater.security import _schema as schema
from headwater.security._authenticator import SecurityAuthenticator
from headwater.security._bootstrap import create_platform_admin
from headwater.settings import Settings
from tests.security.support import SECRET, make_app, security_config


def settings(url: str, tmp_path: Path, **overrides: object) -> Settings:
    return Settings(
        rate_limits=False,
        database_url=url,
        data_dir=tmp_path,
        secret_key=SECRET,  # type: ignore[arg-type]
        hsts=False,
        **overrides,  # type: ignore[arg-type]
    )


def test_start_publishes_the_services_the_realtime_hub_uses(tmp_path: Path) -> None:
    channels = ChannelRegistry()
    module = SecurityModule(security_config(), channels=channels)
    app = create_app(settings(f"sqlite:///{tmp_path / 'a.db'}", tmp_path), plugins=[module])
    with TestClient(app):
        runtime: Runtime = app.state.runtime
        assert isinstance(runtime.authenticator, SecurityAuthenticator)
        assert runtime.channels is channels
        assert runtime.require_security().authenticator is runtime.authenticator
    # stop() takes them back
    assert (runtime.security, runtime.authenticator, runtime.channels) == (None, None, None)


def test_a_node_that_must_not_migrate_refuses_an_old_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"

    async def migrate_the_event_store_only() -> None:
        store = await create_event_store(url, migrate=True)
        await store.close()

    anyio.run(migrate_the_event_store_only)
    app = create_app(
        settings(url, tmp_path, auto_migrate=False), plugins=[SecurityModule(security_config())]
    )
    with pytest.raises(SchemaNotMigrated, match="headwater migrate"), TestClient(app):
        pass

    async def migrate_security_and_jobs() -> bool:
        # What `headwater migrate` does for this app: every module's tables, the job
        # queue's included (a core module, it refuses an old schema as well).
        store = await create_event_store(url)
        try:
            await SecurityModule().migrate(store)
            await SqlJobQueue(store).migrate()
            return await schema.is_current(store)
        finally:
            await store.close()

    assert anyio.run(migrate_security_and_jobs)
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize("backend", ["sqlite-file", "postgres"], indirect=True)
def test_the_cli_bootstrap_creates_a_platform_admin_once(store_url: str, tmp_path: Path) -> None:
    config = security_config(bootstrap_admin_email=None, bootstrap_admin_password=None)

    async def bootstrap() -> tuple[str, str]:
        first = await create_platform_admin(
            store_url, "ops@example.com", "ops-password-1", root_secret=SECRET, config=config
        )
        again = await create_platform_admin(
            store_url, "ops@example.com", "ops-password-1", root_secret=SECRET, config=config
        )
        return first.account_id, again.account_id

    first, again = anyio.run(bootstrap)
    assert first == again
    with TestClient(make_app(store_url, tmp_path, config)) as client:
        response = client.post(
            "/auth/login", json={"email": "ops@example.com", "password": "ops-password-1"}
        )
        assert response.json()["data"]["account"]["roles"] == [Role.PLATFORM_ADMIN.value]
