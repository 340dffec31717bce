"""``RealtimeModule``: the hub, the WebSocket and SSE endpoints, as one Headwater module."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Final

from fastapi import APIRouter, Header, Query, Request
from starlette.routing import WebSocketRoute

import headwater.realtime
from headwater.envelope import ErrorBody
from headwater.errors import ChannelForbidden, InvalidInput, StoreUnavailable, UpgradeRequired
from headwater.identity._channels import ChannelRegistry
from headwater.identity._principal import Authenticator
from headwater.modules import Module
from headwater.realtime import _sse as sse_module
from headwater.realtime._config import RealtimeConfig
from headwater.realtime._hub import Hub
from headwater.realtime._sse import SseResponse
from headwater.realtime._topics import TopicProvider
from headwater.realtime._websocket import WebSocketEndpoint, request_cookies, request_headers
from headwater.runtime import Runtime

#: Store event types shown on the admin feed, under the seed's admin event names.
#: Apps add theirs, e.g. ``{"UserRegistered": "user.created"}``.
DEFAULT_ADMIN_EVENTS: Final[Mapping[str, str]] = {
    "system.alert": "system.alert",
    # The conflict review queue (``headwater.domain._review``), for every app.
    "headwater.ConflictEscalated": "review.opened",
    "headwater.ReviewAccepted": "review.accepted",
    "headwater.ReviewRejected": "review.rejected",
}

_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "A malformed channel or Last-Event-ID"),
        (401, "Credentials present but invalid"),
        (403, "A channel the caller may not follow"),
        (422, "Missing or invalid query parameters"),
        (503, "The realtime hub is not running"),
    )
}


# Module-level: FastAPI resolves these annotations by name at import time.
ChannelsQuery = Annotated[
    list[str], Query(min_length=1, description="A channel to follow (repeatable)")
]
#: Positions are 64-bit in both stores; a larger one is a 422, not an overflow later.
_MAX_POSITION: Final = 2**63 - 1
FromPositionQuery = Annotated[
    int | None,
    Query(ge=0, le=_MAX_POSITION, description="Resume after this position (Last-Event-ID wins)"),
]
LastEventIdHeader = Annotated[str | None, Header(alias="Last-Event-ID")]


class RealtimeModule(Module):
    name = "realtime"
    version = "0.1.0"

    def __init__(
        self,
        authenticator: Authenticator | None = None,
        *,
        channels: ChannelRegistry | None = None,
        admin_events: Mapping[str, str] | None = None,
        topics: Iterable[TopicProvider] = (),
        config: RealtimeConfig | None = None,
        prefix: str = "/realtime",
    ) -> None:
        """``authenticator`` defaults to ``runtime.authenticator`` at start;
        ``channels`` to the security module's registry (one registry for both)."""
        self._authenticator = authenticator
        self._channels = channels
        self.admin_events = {**DEFAULT_ADMIN_EVENTS, **(admin_events or {})}
        self.config = config or RealtimeConfig()
        self.prefix = prefix
        self.hub: Hub | None = None
        self._topics = list(topics)

    @property
    def authenticator(self) -> Authenticator:
        if self._authenticator is None:
            raise InvalidInput("the realtime module has no authenticator")
        return self._authenticator

    def add_topic(self, provider: TopicProvider) -> None:
        self._topics.append(provider)
        if self.hub is not None:
            self.hub.add_topic(provider)

    async def start(self, runtime: Runtime) -> None:
        if self._authenticator is None:
            # The security module (a core module, started first) sets it.
            self._authenticator = runtime.authenticator
        if self._authenticator is None:
            raise InvalidInput(
                "RealtimeModule needs an authenticator: pass one, or start a module that "
                "sets runtime.authenticator (the security module does) before it"
            )
        # One registry: the security module's (its rules by name), unless given one.
        channels = self._channels or runtime.channels or ChannelRegistry()
        hub = Hub(
            runtime.store,
            channels,
            admin_events=self.admin_events,
            config=self.config,
            topics=self._topics,
        )
        await hub.start()
        self.hub = hub
        runtime.hub = hub

    async def stop(self, runtime: Runtime) -> None:
        hub, self.hub = self.hub, None
        if hub is not None:
            await hub.stop()
            if runtime.hub is hub:
                runtime.hub = None

    def routers(self) -> Sequence[APIRouter]:
        router = APIRouter(prefix=self.prefix, tags=["realtime"])
        router.routes.append(WebSocketRoute(f"{self.prefix}/ws", WebSocketEndpoint(self)))
        module = self

        @router.get(
            "/ws",
            summary="The realtime WebSocket (connect with a WebSocket client)",
            description=headwater.realtime.__doc__ or "",
            status_code=426,
            responses={426: {"model": ErrorBody, "description": "Upgrade to WebSocket"}},
        )
        async def websocket_info() -> None:
            raise UpgradeRequired("connect to this URL with a WebSocket client")

        @router.get(
            "/sse",
            summary="Follow channels as Server-Sent Events",
            description=sse_module.__doc__ or "",
            response_class=SseResponse,
            status_code=200,
            responses={
                200: {
                    "description": "An endless text/event-stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                **_ERRORS,
            },
        )
        async def sse(
            request: Request,
            channel: ChannelsQuery,
            from_position: FromPositionQuery = None,
            last_event_id: LastEventIdHeader = None,
        ) -> SseResponse:
            hub = module.hub
            if hub is None:
                raise StoreUnavailable("the realtime hub is not running")
            if hub.store_down:
                raise StoreUnavailable("the event store is unavailable")
            if len(channel) > module.config.sse_max_channels:
                raise InvalidInput(f"at most {module.config.sse_max_channels} channels")
            headers = request_headers(request.scope)
            principal = await module.authenticator.authenticate(headers, request_cookies(headers))
            channels = []
            for name in dict.fromkeys(channel):
                parsed = hub.channels.parse(name)
                if not await hub.authorize(principal, parsed):
                    raise ChannelForbidden(parsed.name)
                channels.append(parsed)
            start = _position(last_event_id) if last_event_id else from_position
            if start is not None and start > hub.position:
                head = await hub.store.head_position()
                if start > head:
                    raise InvalidInput(f"position {start} is past the end of the log ({head})")
            return SseResponse(hub, principal, channels, start)

        return [router]


def _position(value: str) -> int:
    text = value.strip()
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput("Last-Event-ID must be an event position (a non-negative integer)")
    return int(text)
