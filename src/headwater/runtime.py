"""The long-lived parts of a running Headwater node, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headwater.cursors import CursorCodec
from headwater.eventstore import EventStore
from headwater.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    store: EventStore
    cursors: CursorCodec
    #: The node's signing secret (cursors, tokens, sessions); never logged.
    secret: str = field(default="", repr=False)
    #: Services added by modules and later layers (hub, buses, cache...), by name.
    services: dict[str, Any] = field(default_factory=dict)
