"""One channel registry: the realtime hub asks the one the security module was given."""

from __future__ import annotations

from pathlib import Path

import anyio
from fastapi.testclient import TestClient

from headwater.app import create_app
from headwater.http._security import SecurityModule
from headwater.identity._channels import Channel, ChannelRegistry
from headwater.identity._principal import Role
from headwater.realtime import RealtimeModule, TopicProvider
from headwater.testing._realtime import TOKENS
from tests.http.support import make_settings


async def _fetch(tenant: str | None, key: str) -> object:
    return {"key": key}


def test_the_hub_follows_the_security_modules_registry(tmp_path: Path) -> None:
    registry = ChannelRegistry.with_defaults()
    # Users may not follow categories by the default policy; this rule lets them follow one.
    registry.allow("category:guest", Role.USER)
    realtime = RealtimeModule(topics=[TopicProvider("board", _fetch, frozenset({"Scored"}))])
    app = create_app(make_settings(tmp_path), plugins=[SecurityModule(channels=registry), realtime])
    bob = TOKENS["bob-token"]
    with TestClient(app):
        hub = realtime.hub
        assert hub is not None
        assert hub.channels is registry

        async def verdicts() -> list[bool]:
            return [
                await hub.authorize(bob, Channel("category", "guest")),
                await hub.authorize(bob, Channel("category", "order")),
                await hub.authorize(bob, registry.parse("board:1")),  # the topic's policy
                await hub.authorize(bob, Channel("stream", "account-1")),  # never
            ]

        assert anyio.run(verdicts) == [True, False, True, False]
        assert hub.topic("board") is not None
