"""Errors raised by the realtime layer.

They extend the tree in ``headwater/errors.py`` (where the channel-name errors,
``InvalidChannel`` and ``UnknownChannelKind``, live beside the registry's level)::

    HeadwaterError
    ├── Forbidden
    │   └── ChannelForbidden         (the principal may not follow this channel: 403)
    ├── UpgradeRequired              (a plain HTTP GET on the WebSocket endpoint: 426)
    └── IllegalTransition            (a connection state change the machine forbids: a bug)
"""

from __future__ import annotations

from typing import ClassVar

from headwater.errors import Forbidden, HeadwaterError


class ChannelForbidden(Forbidden):
    """Deliberately says nothing about whether the channel has events or whose they are."""

    def __init__(self, channel: str) -> None:
        super().__init__(f"you may not follow channel {channel!r}", channel=channel)


class UpgradeRequired(HeadwaterError):
    code = "upgrade_required"
    http_status: ClassVar[int] = 426
    headers: ClassVar[dict[str, str]] = {"Upgrade": "websocket", "Connection": "Upgrade"}


class IllegalTransition(HeadwaterError):
    code = "illegal_transition"

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"a connection cannot go from {current} to {target}")
