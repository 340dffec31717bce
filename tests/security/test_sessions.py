"""Refresh tokens rotate on every use; a spent one coming back revokes its whole family."""

from __future__ import annotations

import asyncio

import pytest

from headwater.errors import (
    RefreshTokenReused,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
)
from headwater.eventstore import EventStore
from headwater.identity._principal import Role
from headwater.security._service import Security
from headwater.security._sessions import Sessions
from tests.security.support import PASSWORD

pytestmark = pytest.mark.anyio
META = {"actor": "test", "actor_kind": "test"}


@pytest.fixture
async def email(security: Security) -> str:
    await security.accounts.register(
        email="ada@example.com",
        password=PASSWORD,
        tenant_id="t1",
        roles=[Role.USER],
        metadata=META,
    )
    return "ada@example.com"


async def test_each_refresh_returns_a_new_token_and_spends_the_old(
    security: Security, email: str
) -> None:
    first = await security.login(email, PASSWORD)
    second = await security.refresh(first.refresh_token)
    third = await security.refresh(second.refresh_token)
    assert len({first.refresh_token, second.refresh_token, third.refresh_token}) == 3
    # One session (family) throughout: the access tokens all carry its id.
    assert first.access.session_id == second.access.session_id == third.access.session_id


async def test_reusing_a_spent_refresh_token_revokes_the_whole_family(
    security: Security, email: str
) -> None:
    login = await security.login(email, PASSWORD)
    stolen = login.refresh_token
    legit = await security.refresh(stolen)  # the owner refreshes
    with pytest.raises(RefreshTokenReused):
        await security.refresh(stolen)  # the thief replays the spent token
    # The family is dead: the owner's newest refresh token and access token too.
    with pytest.raises(TokenRevoked):
        await security.refresh(legit.refresh_token)
    with pytest.raises(TokenRevoked):
        await security.authenticator.from_access_token(legit.access_token)
    with pytest.raises(TokenRevoked):
        await security.authenticator.from_access_token(login.access_token)


async def test_reuse_does_not_touch_the_accounts_other_sessions(
    security: Security, email: str
) -> None:
    phone = await security.login(email, PASSWORD)
    laptop = await security.login(email, PASSWORD)
    await security.refresh(phone.refresh_token)
    with pytest.raises(RefreshTokenReused):
        await security.refresh(phone.refresh_token)
    assert (await security.refresh(laptop.refresh_token)).account.email == email


async def test_concurrent_uses_of_one_token_let_one_through_and_revoke_the_family(
    security: Security, email: str
) -> None:
    login = await security.login(email, PASSWORD)
    outcomes = await asyncio.gather(
        *(security.refresh(login.refresh_token) for _ in range(5)), return_exceptions=True
    )
    successes = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(successes) <= 1
    assert all(
        isinstance(o, (RefreshTokenReused, TokenRevoked))
        for o in outcomes
        if isinstance(o, BaseException)
    )
    for success in successes:  # the race itself was a reuse: the winner's token is dead too
        with pytest.raises(TokenRevoked):
            await security.refresh(success.refresh_token)


async def test_an_unknown_refresh_token_is_invalid(security: Security) -> None:
    with pytest.raises(TokenInvalid):
        await security.refresh("hwr_not-a-token")


async def test_an_expired_refresh_token_is_refused(
    security: Security, store: EventStore, email: str
) -> None:
    account = await security.accounts.find_by_email(email)
    assert account is not None
    short = Sessions(store, refresh_seconds=0, session_max_seconds=60, cookie_seconds=60)
    grant = await short.open_token_session(account.account_id)
    with pytest.raises(TokenExpired):
        await security.refresh(grant.refresh_token)


async def test_a_session_past_its_absolute_end_cannot_refresh(
    security: Security, store: EventStore, email: str
) -> None:
    account = await security.accounts.find_by_email(email)
    assert account is not None
    ended = Sessions(store, refresh_seconds=60, session_max_seconds=0, cookie_seconds=60)
    grant = await ended.open_token_session(account.account_id)
    with pytest.raises(TokenExpired):
        await security.refresh(grant.refresh_token)
    assert await ended.purge_expired() >= 2


async def test_logout_by_refresh_token_ends_the_session(security: Security, email: str) -> None:
    from headwater.identity._principal import ANONYMOUS

    login = await security.login(email, PASSWORD)
    await security.logout(ANONYMOUS, login.refresh_token)
    with pytest.raises(TokenRevoked):
        await security.refresh(login.refresh_token)
    with pytest.raises(TokenRevoked):
        await security.authenticator.from_access_token(login.access_token)


async def test_sign_out_everywhere_ends_every_session_but_not_later_ones(
    security: Security, email: str
) -> None:
    one = await security.login(email, PASSWORD)
    two = await security.login(email, PASSWORD)
    account = await security.accounts.find_by_email(email)
    assert account is not None
    await security.sign_out_everywhere(account, "lost phone", META)
    for pair in (one, two):
        with pytest.raises(TokenRevoked):
            await security.authenticator.from_access_token(pair.access_token)
        with pytest.raises(TokenRevoked):
            await security.refresh(pair.refresh_token)
    later = await security.login(email, PASSWORD)
    principal = await security.authenticator.from_access_token(later.access_token)
    assert principal.subject == account.account_id


async def test_disabling_an_account_ends_its_sessions_and_refresh(
    security: Security, email: str
) -> None:
    login = await security.login(email, PASSWORD)
    account = await security.accounts.find_by_email(email)
    assert account is not None
    await security.disable(account, "left", META)
    with pytest.raises(TokenRevoked):
        await security.authenticator.from_access_token(login.access_token)
    with pytest.raises(TokenRevoked):
        await security.refresh(login.refresh_token)
    disabled = await security.accounts.find_by_email(email)
    assert disabled is not None
    await security.enable(disabled, META)
    with pytest.raises(TokenRevoked):  # old sessions stay ended
        await security.refresh(login.refresh_token)
    assert (await security.login(email, PASSWORD)).account.email == email
