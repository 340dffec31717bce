"""Accounts are events; the lookup table follows them in the same transaction."""

from __future__ import annotations

import asyncio

import pytest

from headwater.errors import ConcurrencyError, EmailTaken, InvalidCredentials, InvalidInput
from headwater.eventstore import EventStore, NewEvent
from headwater.identity._principal import Role
from headwater.security import _events as ev
from headwater.security._service import Security
from tests.security.support import PASSWORD

pytestmark = pytest.mark.anyio
META = {"actor": "test", "actor_kind": "test"}


async def register(security: Security, email: str, tenant: str | None = "t1") -> str:
    roles = [Role.USER] if tenant else [Role.PLATFORM_ADMIN]
    record = await security.accounts.register(
        email=email, password=PASSWORD, tenant_id=tenant, roles=roles, metadata=META
    )
    return record.account_id


async def test_a_registration_can_log_in_at_once(security: Security) -> None:
    account_id = await register(security, "Ada@Example.com ")
    pair = await security.login("ada@example.com", PASSWORD)
    assert pair.account.account_id == account_id
    assert pair.account.email == "ada@example.com"


async def test_registration_is_an_event_under_the_accounts_tenant(
    security: Security, store: EventStore
) -> None:
    account_id = await register(security, "ada@example.com")
    events = [e async for e in store.read_stream(ev.account_stream(account_id))]
    assert [e.type for e in events] == [ev.ACCOUNT_REGISTERED]
    assert events[0].tenant_id == "t1"
    assert events[0].metadata["actor"] == "test"
    # The hash is in the account's row, committed with the event, and not in the log.
    assert "password_hash" not in events[0].data
    account = await security.accounts.get(account_id)
    assert account is not None
    assert account.password_hash.startswith("$argon2id$")


async def test_no_password_hash_ever_reaches_the_log(security: Security, store: EventStore) -> None:
    account_id = await register(security, "ada@example.com")
    account = await security.accounts.get(account_id)
    assert account is not None
    await security.accounts.change_password(
        account, "another long password", sign_out=True, metadata={"actor": "test"}
    )
    changed = await security.accounts.get(account_id)
    assert changed is not None
    assert await security.passwords.verify(changed.password_hash, "another long password")
    assert changed.tokens_revoked_at > 0
    logged = [e async for e in store.read_all()]
    assert [e.type for e in logged][-2:] == [ev.ACCOUNT_REGISTERED, ev.PASSWORD_CHANGED]
    assert not any("argon2" in str(e.data) for e in logged)


async def test_a_registration_event_without_its_credential_is_refused(
    store: EventStore, security: Security
) -> None:
    data = {
        "account_id": "nopass",
        "email": "nopass@example.com",
        "tenant_id": "t1",
        "roles": ["user"],
        "tier": "user",
    }
    with pytest.raises(InvalidInput, match="without its credential"):
        await store.append(
            ev.account_stream("nopass"), NewEvent(ev.ACCOUNT_REGISTERED, data), tenant_id="t1"
        )
    assert await security.accounts.find_by_email("nopass@example.com") is None


async def test_a_second_account_with_the_same_email_is_refused(security: Security) -> None:
    await register(security, "ada@example.com")
    with pytest.raises(EmailTaken):
        await register(security, "ADA@example.com", tenant="t2")


async def test_racing_registrations_of_one_email_leave_exactly_one(
    security: Security, store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Let all four past the pre-check, as if they had raced it: the UNIQUE email of
    # the inline table must then decide, inside each append's transaction.
    real_find = security.accounts.find_by_email
    passed = 0

    async def racing_find(email: str) -> object:
        nonlocal passed
        passed += 1
        return None if passed <= 4 else await real_find(email)

    monkeypatch.setattr(security.accounts, "find_by_email", racing_find)
    outcomes = await asyncio.gather(
        *(register(security, "race@example.com", tenant=f"t{i}") for i in range(4)),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if isinstance(o, str)]
    assert len(winners) == 1
    assert all(isinstance(o, EmailTaken) for o in outcomes if not isinstance(o, str))
    registered = [e async for e in store.read_all(types=[ev.ACCOUNT_REGISTERED])]
    assert [e.stream_id for e in registered] == [ev.account_stream(winners[0])]


async def test_wrong_password_unknown_email_and_disabled_all_fail_alike(
    security: Security,
) -> None:
    account_id = await register(security, "ada@example.com")
    account = await security.accounts.get(account_id)
    assert account is not None
    await security.disable(account, "left", META)
    for email, password in [
        ("ada@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("ada@example.com", PASSWORD),
    ]:
        with pytest.raises(InvalidCredentials) as caught:
            await security.login(email, password)
        assert caught.value.message == "the email or password is not correct"


async def test_a_stale_version_conflicts(security: Security) -> None:
    account_id = await register(security, "ada@example.com")
    stale = await security.accounts.get(account_id)
    assert stale is not None
    await security.change_roles(stale, [Role.STAFF], "user", META)
    with pytest.raises(ConcurrencyError):
        await security.change_roles(stale, [Role.TENANT_ADMIN], "user", META)


async def test_an_audit_only_event_keeps_commands_working(security: Security) -> None:
    account_id = await register(security, "root@example.com", tenant=None)
    account = await security.accounts.get(account_id)
    assert account is not None
    await security.accounts.record_acting_for(account, "t1", metadata=META)
    fresh = await security.accounts.get(account_id)
    assert fresh is not None
    assert fresh.version == 2
    await security.change_roles(fresh, [Role.PLATFORM_ADMIN], "premium", META)


@pytest.mark.parametrize(
    ("tenant", "roles"),
    [
        ("t1", ["platform_admin"]),  # a tenant's account is never a platform admin
        (None, ["user"]),  # a tenantless account is only ever a platform admin
        ("t1", []),
    ],
)
async def test_a_forged_registration_event_is_refused_by_the_projection(
    store: EventStore, security: Security, tenant: str | None, roles: list[str]
) -> None:
    data = {
        "account_id": "forged",
        "email": "forged@example.com",
        "tenant_id": tenant,
        "display_name": None,
        "password_hash": "x",
        "roles": roles,
        "tier": "user",
    }
    with pytest.raises(InvalidInput):
        await store.append(
            ev.account_stream("forged"),
            NewEvent(ev.ACCOUNT_REGISTERED, data),
            tenant_id=tenant,
        )
    assert await security.accounts.find_by_email("forged@example.com") is None
    assert await store.stream_version(ev.account_stream("forged")) is None


async def test_registration_under_another_tenant_than_its_data_is_refused(
    store: EventStore, security: Security
) -> None:
    data = {
        "account_id": "x1",
        "email": "x@example.com",
        "tenant_id": "t1",
        "password_hash": "x",
        "roles": ["tenant_admin"],
        "tier": "user",
    }
    with pytest.raises(InvalidInput):
        await store.append(
            ev.account_stream("x1"), NewEvent(ev.ACCOUNT_REGISTERED, data), tenant_id="t2"
        )


async def test_login_rehashes_a_hash_made_with_older_parameters(
    security: Security, store: EventStore
) -> None:
    from headwater.security._config import PasswordPolicy
    from headwater.security._passwords import Passwords

    weaker = Passwords(PasswordPolicy(time_cost=1, memory_cost_kib=16, parallelism=1))
    account_id = await register(security, "ada@example.com")
    account = await security.accounts.get(account_id)
    assert account is not None
    old_hash = await weaker.hash(PASSWORD)
    # An event as older versions wrote it, with the hash inside: it still applies.
    await store.append(
        ev.account_stream(account_id),
        NewEvent(ev.PASSWORD_CHANGED, {"password_hash": old_hash, "sign_out": False}),
        expected_version=account.version,
        tenant_id="t1",
    )
    await security.login("ada@example.com", PASSWORD)
    rehashed = await security.accounts.get(account_id)
    assert rehashed is not None
    assert rehashed.password_hash != old_hash
    assert not security.passwords.needs_rehash(rehashed.password_hash)
