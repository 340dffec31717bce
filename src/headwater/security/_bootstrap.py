"""Create the first platform admin, from the CLI or a script (the demo calls this).

``SecurityModule`` does the same at start-up when the config names a bootstrap
admin; this function serves deployments that would rather not keep a password in
the environment of every node.
"""

from __future__ import annotations

from headwater.eventstore import create_event_store
from headwater.identity._channels import ChannelRegistry
from headwater.security import _schema as schema
from headwater.security._accounts import AccountRecord
from headwater.security._config import SecurityConfig
from headwater.security._service import Security


async def create_platform_admin(
    database_url: str,
    email: str,
    password: str,
    *,
    root_secret: str,
    config: SecurityConfig | None = None,
) -> AccountRecord:
    """Open the store, bring the security tables up to date, ensure the admin exists."""
    store = await create_event_store(database_url, migrate=True)
    try:
        await schema.migrate(store)
        schema.attach(store)
        security = Security(
            store,
            root_secret=root_secret,
            config=config or SecurityConfig(),
            channels=ChannelRegistry(),
        )
        return await security.ensure_platform_admin(email, password)
    finally:
        schema.detach(store)
        await store.close()
