"""Channel names and per-channel authorization."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from headwater.eventstore import RecordedEvent
from headwater.identity._channels import event_channel_names, parse_channel
from headwater.identity._principal import ANONYMOUS, Principal, Role
from headwater.realtime import Channel, ChannelRegistry, InvalidChannel, UnknownChannelKind
from headwater.testing._realtime import TOKENS

pytestmark = pytest.mark.anyio


def event(stream_id: str, type_: str = "Tested", tenant: str | None = "acme") -> RecordedEvent:
    return RecordedEvent(uuid.uuid4(), stream_id, 1, 1, type_, {}, {}, tenant, datetime.now(UTC))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("stream:order-1", Channel("stream", "order-1")),
        ("stream:a:b", Channel("stream", "a:b")),
        ("category:order", Channel("category", "order")),
        ("tenant", Channel("tenant")),
        ("admin", Channel("admin")),
        ("leaderboard:g-1", Channel("leaderboard", "g-1")),
    ],
)
def test_parse_channel(name: str, expected: Channel) -> None:
    assert parse_channel(name) == expected
    assert expected.name == name


@pytest.mark.parametrize(
    "name", ["", "tenant:acme", "admin:x", "stream:", "stream: ", "Bad:x", "x" * 301, "s:\n", 7]
)
def test_parse_channel_refuses(name: object) -> None:
    with pytest.raises(InvalidChannel):
        parse_channel(name)


def test_routing_names_cover_the_stream_its_categories_and_the_tenant() -> None:
    assert event_channel_names(event("cart-items-9")) == [
        "stream:cart-items-9",
        "tenant",
        "category:cart",
        "category:cart-items",
    ]
    assert event_channel_names(event("plain")) == ["stream:plain", "tenant"]


def test_matches_is_exact_for_streams_and_prefix_dash_for_categories() -> None:
    assert Channel("stream", "a-1").matches(event("a-1"))
    assert not Channel("stream", "a-1").matches(event("a-10"))
    assert Channel("category", "a").matches(event("a-10"))
    assert not Channel("category", "a").matches(event("ab-1"))
    assert Channel("admin").matches(event("u-1", "UserRegistered"), frozenset({"UserRegistered"}))


async def test_default_policies_by_role() -> None:
    registry = ChannelRegistry()
    alice, bob, carol = TOKENS["alice-token"], TOKENS["bob-token"], TOKENS["carol-token"]
    stream, tenant, admin = Channel("stream", "s-1"), Channel("tenant"), Channel("admin")
    assert await registry.authorize(bob, stream)
    assert not await registry.authorize(bob, tenant)
    assert await registry.authorize(alice, tenant)
    assert not await registry.authorize(alice, admin)
    assert await registry.authorize(carol, admin)
    assert not await registry.authorize(ANONYMOUS, stream)
    # Without a tenant only a platform admin may follow (tenant-less events).
    lost = Principal("x", None, frozenset({Role.STAFF}), "access_token")
    assert not await registry.authorize(lost, stream)
    assert await registry.authorize(TOKENS["root-token"], stream)


async def test_unknown_kinds_are_refused_and_apps_add_async_policies() -> None:
    registry = ChannelRegistry()
    with pytest.raises(UnknownChannelKind):
        registry.parse("board:1")

    async def only_key_1(principal: Principal, channel: Channel) -> bool:
        return channel.key == "1"

    registry.set_policy("board", only_key_1)
    assert await registry.authorize(ANONYMOUS, registry.parse("board:1"))
    assert not await registry.authorize(ANONYMOUS, registry.parse("board:2"))


async def test_a_policy_must_say_true_to_allow() -> None:
    registry = ChannelRegistry()
    registry.set_policy("odd", lambda principal, channel: "yes")  # type: ignore[arg-type,return-value]
    assert not await registry.authorize(ANONYMOUS, registry.parse("odd:1"))
