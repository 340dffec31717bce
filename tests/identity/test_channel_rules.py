"""The channel registry's rules by name: default deny, most specific rule wins, tenants
and security streams."""

from __future__ import annotations

import pytest

from headwater.errors import InvalidInput
from headwater.identity._channels import ChannelRegistry
from headwater.identity._principal import ANONYMOUS, Principal, Role


def principal(*roles: Role, tenant: str | None = "t1", subject: str = "acc-1") -> Principal:
    return Principal(
        subject=subject, tenant_id=tenant, roles=frozenset(roles), credential="access_token"
    )


USER, STAFF, ADMIN = principal(Role.USER), principal(Role.STAFF), principal(Role.TENANT_ADMIN)


@pytest.fixture
def channels() -> ChannelRegistry:
    registry = ChannelRegistry.with_defaults()
    registry.allow("leaderboard:*", Role.USER)
    registry.allow("category:guest", Role.STAFF)
    registry.allow("stream:order-*", Role.STAFF)
    # A user may follow their own account's stream only.
    registry.allow("stream:profile-*", lambda p, ch: ch == f"stream:profile-{p.subject}")
    registry.allow("public:*", Role.ANONYMOUS, tenantless=True)
    return registry


def test_nothing_is_allowed_unless_declared(channels: ChannelRegistry) -> None:
    assert not channels.allows(ADMIN, "category:invoice")
    assert not ChannelRegistry().allows(ADMIN, "admin")


@pytest.mark.parametrize(
    ("who", "channel", "allowed"),
    [
        (USER, "leaderboard:g1", True),
        (ANONYMOUS, "leaderboard:g1", False),
        (USER, "category:guest", False),
        (STAFF, "category:guest", True),
        (ADMIN, "category:guest", True),  # roles include the ones below them
        (STAFF, "admin", False),
        (ADMIN, "admin", True),
        (STAFF, "stream:order-42", True),
        (USER, "stream:order-42", False),
        (USER, "stream:profile-acc-1", True),
        (USER, "stream:profile-acc-2", False),
        (ANONYMOUS, "public:news", True),
    ],
)
def test_rules(channels: ChannelRegistry, who: Principal, channel: str, allowed: bool) -> None:
    assert channels.allows(who, channel) is allowed


def test_the_most_specific_rule_wins(channels: ChannelRegistry) -> None:
    channels.allow("stream:*", Role.USER)
    assert channels.allows(USER, "stream:anything")
    assert not channels.allows(USER, "stream:order-1")  # the longer prefix is staff-only


def test_a_principal_without_tenant_gets_no_tenant_channel(channels: ChannelRegistry) -> None:
    root = principal(Role.PLATFORM_ADMIN, tenant=None)
    assert not channels.allows(root, "admin")
    assert not channels.allows(root, "leaderboard:g1")
    assert channels.allows(principal(Role.PLATFORM_ADMIN, tenant="t1"), "admin")


@pytest.mark.parametrize(
    "channel",
    ["stream:account-acc-1", "stream:apikey-k1", "stream:tenant-t1", "category:account"],
)
def test_security_streams_are_never_subscribable(channels: ChannelRegistry, channel: str) -> None:
    channels.allow("stream:*", Role.USER)
    channels.allow("category:*", Role.USER)
    assert not channels.allows(ADMIN, channel)


@pytest.mark.parametrize(
    "channel", ["", "stream:", ":x", "stream:a b", "x" * 300, "stream:\n", "stream:abc\n"]
)
def test_malformed_channels_are_refused(channels: ChannelRegistry, channel: str) -> None:
    channels.allow("stream:*", Role.USER)
    assert not channels.allows(ADMIN, channel)


def test_a_tenantless_channel_cannot_be_role_gated() -> None:
    with pytest.raises(InvalidInput):
        ChannelRegistry().allow("public:*", Role.USER, tenantless=True)
    with pytest.raises(InvalidInput):
        ChannelRegistry().allow("*", Role.USER)
