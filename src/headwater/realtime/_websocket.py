"""The WebSocket endpoint: a raw ASGI app speaking the protocol in ``headwater.realtime``.

It is plain ASGI (no Starlette ``WebSocket`` wrapper) because every fan-out frame goes
through ``send``: the fewer layers per frame, the cheaper a broadcast to thousands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from starlette.types import Receive, Scope, Send

from headwater.errors import (
    HeadwaterError,
    InvalidChannel,
    RateLimited,
    StoreUnavailable,
    Unauthorized,
)
from headwater.identity._principal import Principal
from headwater.realtime._connection import CloseCode, Connection
from headwater.realtime._frames import error_frame, message

if TYPE_CHECKING:
    from headwater.realtime._module import RealtimeModule

log = logging.getLogger("headwater.realtime")


def request_headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def request_cookies(headers: Mapping[str, str]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    with contextlib.suppress(Exception):
        jar.load(headers.get("cookie", ""))
    return {key: morsel.value for key, morsel in jar.items()}


def close_reason(text: str) -> str:
    """A close frame's reason is at most 123 bytes of UTF-8."""
    return text.encode()[:123].decode(errors="ignore")


def close_for(exc: BaseException) -> tuple[int, str]:
    """The close frame that ends a socket on which ``exc`` was raised: 1013 when the
    store (or another backend) is unavailable, 1008 when Headwater refuses what the
    client asked, 1011 for a bug (logged by the caller)."""
    if isinstance(exc, StoreUnavailable | RateLimited):
        return CloseCode.TRY_AGAIN_LATER, close_reason(exc.message)
    if isinstance(exc, HeadwaterError):
        return CloseCode.POLICY_VIOLATION, close_reason(exc.message)
    return CloseCode.INTERNAL_ERROR, "internal error"


def close_on_error(conn: Connection, exc: BaseException) -> None:
    code, reason = close_for(exc)
    if code == CloseCode.INTERNAL_ERROR:
        log.error("realtime: connection %s failed", conn.id, exc_info=exc)
    else:
        log.info("realtime: closing %s with %s: %s", conn.id, code, reason)
    conn.close(code, reason)


def expiry_of(principal: Principal) -> float | None:
    exp = principal.claims.get("exp")
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


def origin_allowed(headers: Mapping[str, str], allowed: frozenset[str]) -> bool:
    """Whether a browser page at ``Origin`` may use the cookie session (CSWSH guard)."""
    origin = headers.get("origin")
    if origin is None:
        return True  # not a browser: a cookie cannot have been attached cross-site
    if origin in allowed:
        return True
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()


class WebSocketEndpoint:
    def __init__(self, module: RealtimeModule) -> None:
        self._module = module

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        hub = self._module.hub
        await send({"type": "websocket.accept"})
        if hub is None or hub.store_down:
            reason = "the event store is unavailable" if hub else "the realtime hub is not running"
            await send(
                {"type": "websocket.close", "code": CloseCode.TRY_AGAIN_LATER, "reason": reason}
            )
            return
        conn = Connection(send, connection_id=uuid.uuid4().hex, max_queue=hub.config.max_queue)
        session = Session(self._module, conn, request_headers(scope))
        hub.connections.add(conn)
        try:
            # Every error ends in a close frame: nothing escapes to the HTTP handlers,
            # which have no response to give on a WebSocket scope.
            try:
                await session.authenticate_from_request()
            except Exception as exc:
                close_on_error(conn, exc)
            while True:
                received = await receive()
                if received["type"] == "websocket.disconnect":
                    break
                try:
                    await session.handle(received)
                except Exception as exc:
                    close_on_error(conn, exc)
        finally:
            session.end()
            hub.connections.discard(conn)
            if hub.gc is not None:
                hub.gc.closed_since_full += 1


class Session:
    """The protocol for one connection: authentication, then commands."""

    __slots__ = ("conn", "cookies", "headers", "hub", "module")

    def __init__(self, module: RealtimeModule, conn: Connection, headers: dict[str, str]) -> None:
        assert module.hub is not None
        self.module = module
        self.hub = module.hub
        self.conn = conn
        self.headers = headers
        self.cookies = request_cookies(headers)

    def error(self, code: str, text: str, **fields: Any) -> None:
        self.conn.push(error_frame(code, text, **fields))

    async def authenticate_from_request(self) -> None:
        """A cookie session or an ``Authorization`` header authenticates at once."""
        if "authorization" not in self.headers and not self.cookies:
            return
        await self._establish(None)

    async def _establish(self, token: str | None) -> None:
        try:
            principal = await self.module.authenticator.authenticate(
                self.headers, self.cookies, token
            )
        except Unauthorized as exc:
            self.conn.close(CloseCode.UNAUTHORIZED, close_reason(exc.message))
            return
        except HeadwaterError as exc:  # e.g. the account store is unreachable
            log.warning("realtime: authentication failed: %s", exc.message)
            self.conn.close(CloseCode.TRY_AGAIN_LATER, close_reason(exc.message))
            return
        if token is None and not principal.is_authenticated:
            return  # nothing usable in the request: wait for an auth message
        if principal.credential == "session" and not origin_allowed(
            self.headers, self.hub.config.allowed_origins
        ):
            self.conn.close(CloseCode.FORBIDDEN_ORIGIN, "origin not allowed")
            return
        if self.conn.is_authenticated:
            old = self.conn.principal
            if (principal.subject, principal.tenant_id) != (old.subject, old.tenant_id):
                self.error("identity_change", "a connection keeps the identity it started with")
                return
            self.conn.refresh(principal, expiry_of(principal))
            self.conn.push(message("reauthenticated", expires_at=self.conn.expires_at))
            return
        self.conn.authenticate(principal, expiry_of(principal))
        config = self.hub.config
        self.conn.push(
            message(
                "welcome",
                connection_id=self.conn.id,
                subject=principal.subject,
                tenant_id=principal.tenant_id,
                position=self.hub.position,
                heartbeat_interval=config.heartbeat_interval,
                idle_timeout=config.idle_timeout,
                max_queue=config.max_queue,
            )
        )

    async def handle(self, received: Mapping[str, Any]) -> None:
        if not self.conn.is_open:
            return
        raw = received.get("text")
        if raw is None:
            raw = received.get("bytes") or b""
        if len(raw) > self.hub.config.max_message_bytes:
            self.error("message_too_large", "client messages are small JSON commands")
            return
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.error("bad_json", "a message must be a JSON object")
            return
        self.conn.touch()
        kind = data.get("type") if isinstance(data, dict) else None
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            self.error("bad_message", f"unknown message type {kind!r}")
            return
        if kind != "auth" and kind != "ping" and not self.conn.is_authenticated:
            self.error("unauthenticated", 'send {"type": "auth", "token": ...} first')
            return
        await handler(self, data)

    async def _auth(self, data: dict[str, Any]) -> None:
        token = data.get("token")
        if token is not None and not isinstance(token, str):
            self.error("bad_message", "token must be a string")
            return
        await self._establish(token)

    async def _ping(self, data: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"position": self.hub.position}
        if isinstance(data.get("id"), (str, int)):
            reply["id"] = data["id"]
        self.conn.push(message("pong", **reply))

    async def _subscribe(self, data: dict[str, Any]) -> None:
        name = data.get("channel")
        from_position = data.get("from_position")
        presence = data.get("presence", False)
        if from_position is not None and (
            type(from_position) is not int or from_position < 0  # bool is not a position
        ):
            self.error("bad_position", "from_position must be a non-negative integer", channel=name)
            return
        if not isinstance(presence, bool):
            self.error("bad_message", "presence must be true or false", channel=name)
            return
        try:
            channel = self.hub.channels.parse(name)
        except InvalidChannel as exc:
            self.error(exc.code, exc.message, channel=name)
            return
        if self.hub.store_down:
            # Live frames would not come: say so now; the client resumes from its position.
            self.conn.close(CloseCode.TRY_AGAIN_LATER, "the event store is unavailable")
            return
        principal = self.conn.principal
        if not await self.hub.authorize(principal, channel):
            self.error("forbidden", f"you may not follow channel {channel.name!r}", channel=name)
            return
        resync = self.hub.resume_point(from_position)
        if resync is not None:
            # The position is from a history the log lost (a failover, a restore).
            self.conn.resync(resync)
            return
        if from_position is not None and from_position > self.hub.position:
            async with self.hub.store_reads:
                head = await self.hub.store.head_position()
            if from_position > head:
                self.error("bad_position", f"the log ends at {head}", channel=name)
                return
        self._drop(channel.name)
        if len(self.conn.subscriptions) >= self.hub.config.max_subscriptions:
            self.error("too_many_subscriptions", "unsubscribe from something first")
            return
        if not self.conn.is_open:
            return
        # From here to the push of "subscribed" nothing awaits: no frame can come first.
        (sub,), target = self.hub.subscribe(
            self.conn, [channel], from_position=from_position, presence=presence
        )
        self.conn.subscriptions[channel.name] = sub
        self.conn.push(message("subscribed", channel=channel.name, position=self.hub.position))
        self.hub.join(sub)
        if target is not None:
            self._spawn(channel.name, self.hub.catch_up([sub], target))
        provider = self.hub.topic(channel.kind)
        if provider is not None:
            self._spawn(channel.name, self.hub.topics.prime(provider, sub))

    async def _unsubscribe(self, data: dict[str, Any]) -> None:
        name = data.get("channel")
        if not isinstance(name, str) or name not in self.conn.subscriptions:
            self.error("not_subscribed", f"not subscribed to {name!r}", channel=name)
            return
        self._drop(name)
        self.conn.push(message("unsubscribed", channel=name))

    def _spawn(self, name: str, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception as exc:
                # A subscription whose history could not be read would stay half-live:
                # drop it and say so; the client subscribes again from its position.
                self.conn.tasks.pop(name, None)
                self._drop(name)
                if isinstance(exc, StoreUnavailable):
                    close_on_error(self.conn, exc)  # 1013: come back with the position
                elif isinstance(exc, HeadwaterError):
                    self.error(exc.code, exc.message, channel=name)
                else:
                    log.exception("realtime: loading channel %s failed", name)
                    self.error("internal_error", "could not load this channel", channel=name)
            finally:
                if self.conn.tasks.get(name) is task:
                    del self.conn.tasks[name]

        task = asyncio.create_task(run())
        self.conn.tasks[name] = task

    def _drop(self, name: str) -> None:
        task = self.conn.tasks.pop(name, None)
        if task is not None:
            task.cancel()
        sub = self.conn.subscriptions.pop(name, None)
        if sub is not None:
            self.hub.unsubscribe(sub)

    def end(self) -> None:
        for name in list(self.conn.subscriptions):
            self._drop(name)
        for task in self.conn.tasks.values():
            task.cancel()
        self.conn.closed()


#: Client message types, and the session method that handles each.
_HANDLERS: dict[str, Callable[[Session, dict[str, Any]], Awaitable[None]]] = {
    "auth": Session._auth,
    "subscribe": Session._subscribe,
    "unsubscribe": Session._unsubscribe,
    "ping": Session._ping,
}
