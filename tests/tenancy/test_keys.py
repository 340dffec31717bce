"""Cache, rate-limit and channel keys are scoped by tenant and cannot be forged."""

from __future__ import annotations

from headwater.identity._principal import ANONYMOUS, Principal, Role
from headwater.tenancy._keys import channel_key, rate_limit_key, tenant_key


def member(tenant: str | None, subject: str = "acc-1") -> Principal:
    return Principal(
        subject=subject, tenant_id=tenant, roles=frozenset({Role.USER}), credential="access_token"
    )


def test_the_same_parts_give_different_keys_in_different_tenants() -> None:
    assert tenant_key(member("A"), "leaderboard", "g1") == "t:A:leaderboard:g1"
    assert tenant_key(member("A"), "leaderboard", "g1") != tenant_key(
        member("B"), "leaderboard", "g1"
    )


def test_separators_inside_parts_cannot_forge_another_key() -> None:
    assert tenant_key(member("A"), "a:b") != tenant_key(member("A"), "a", "b")
    # A tenant id crafted to look like another tenant's key prefix stays distinct.
    assert tenant_key(member("A:x"), "k") != tenant_key(member("A"), "x", "k")


def test_no_tenant_is_its_own_namespace() -> None:
    assert tenant_key(ANONYMOUS, "k") == "t:*:k"
    assert tenant_key(member("*"), "k") != tenant_key(member(None), "k")


def test_rate_limit_keys_count_subjects_and_anonymous_by_address() -> None:
    assert rate_limit_key(member("A"), "POST /auth/login") != rate_limit_key(
        member("A", "acc-2"), "POST /auth/login"
    )
    assert rate_limit_key(member("A"), "x") != rate_limit_key(member("B"), "x")
    anonymous = rate_limit_key(ANONYMOUS, "x", client_ip="10.0.0.1")
    assert anonymous.endswith(":ip:10.0.0.1")
    assert anonymous != rate_limit_key(ANONYMOUS, "x", client_ip="10.0.0.2")


def test_channel_keys_are_per_tenant() -> None:
    assert channel_key(member("A"), "leaderboard:g1") != channel_key(member("B"), "leaderboard:g1")
