"""The authenticator as the realtime endpoints use it: a token in a WebSocket's first message."""

from __future__ import annotations

import pytest

from headwater.errors import ApiKeyInvalid, TokenInvalid, TokenRevoked
from headwater.identity._principal import ANONYMOUS, Role
from headwater.security._service import Security
from tests.security.support import PASSWORD

pytestmark = pytest.mark.anyio
META = {"actor": "test", "actor_kind": "test"}


@pytest.fixture
async def tenant_key(security: Security) -> str:
    tenant = await security.tenants.create("Acme", metadata=META)
    _, key = await security.api_keys.create(
        tenant_id=tenant.tenant_id,
        name="door",
        role=Role.STAFF,
        tier="premium",
        created_by="test",
        metadata=META,
    )
    await security.accounts.register(
        email="ada@example.com",
        password=PASSWORD,
        tenant_id=tenant.tenant_id,
        roles=[Role.USER],
        metadata=META,
    )
    return key


async def test_a_first_message_token_may_be_an_access_token_or_an_api_key(
    security: Security, tenant_key: str
) -> None:
    pair = await security.login("ada@example.com", PASSWORD)
    by_token = await security.authenticator.authenticate({}, {}, token=pair.access_token)
    assert by_token.subject == pair.account.account_id
    assert by_token.credential == "access_token"
    by_key = await security.authenticator.authenticate({}, {}, token=tenant_key)
    assert by_key.credential == "api_key"
    assert by_key.tenant_id == pair.account.tenant_id


async def test_no_credentials_is_anonymous_and_bad_ones_raise(
    security: Security, tenant_key: str
) -> None:
    assert await security.authenticator.authenticate({}, {}) is ANONYMOUS
    with pytest.raises(TokenInvalid):
        await security.authenticator.authenticate({}, {}, token="garbage")
    with pytest.raises(ApiKeyInvalid):
        await security.authenticator.authenticate({}, {}, token=tenant_key + "x")


async def test_headers_win_over_the_cookie(security: Security, tenant_key: str) -> None:
    principal = await security.authenticator.authenticate(
        {"x-api-key": tenant_key}, {"hw_session": "whatever"}
    )
    assert principal.credential == "api_key"


async def test_a_token_whose_account_was_deleted_from_the_table_is_revoked(
    security: Security, tenant_key: str
) -> None:
    pair = await security.login("ada@example.com", PASSWORD)
    async with security.store.transaction() as tx:
        await tx.execute("DELETE FROM hw_accounts WHERE account_id = ?", (pair.account.account_id,))
    security.states.forget_account(pair.account.account_id)
    with pytest.raises(TokenRevoked):
        await security.authenticator.authenticate({}, {}, token=pair.access_token)
