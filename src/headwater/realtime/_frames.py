"""Server messages, serialised once and shared by every connection that receives them.

A :class:`Frame` holds the JSON text of one message, the ASGI message that sends it
on a WebSocket and (built on first use) its Server-Sent Events form. Fan-out to N
connections therefore costs one serialisation, not N.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from headwater.eventstore import RecordedEvent
from headwater.identity._trace import TRACE_ID_KEY

#: How a client should wait before an EventSource reconnects (milliseconds).
SSE_RETRY_MS: Final = 2000


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class Frame:
    """One server message. ``position`` is set for events (it orders and dedupes them)."""

    __slots__ = ("_sse", "event", "message", "position", "text")

    def __init__(self, text: str, *, position: int | None = None, event: str = "message") -> None:
        self.text = text
        self.position = position
        self.event = event
        # One dict for every connection: uvicorn and our middleware only read it.
        self.message: dict[str, Any] = {"type": "websocket.send", "text": text}
        self._sse: bytes | None = None

    @property
    def sse(self) -> bytes:
        """``id:`` only for events, so topics and presence never move ``Last-Event-ID``."""
        if self._sse is None:
            head = f"id: {self.position}\n" if self.position is not None else ""
            self._sse = f"{head}event: {self.event}\ndata: {self.text}\n\n".encode()
        return self._sse

    def __repr__(self) -> str:
        return f"Frame({self.text[:60]!r}, position={self.position})"


def event_body(event: RecordedEvent, admin_name: str | None = None) -> str:
    """The ``event`` object of an event message: no tenant (implied), no metadata (private)
    but its ``trace_id``, so a client's report can be joined to the request that caused it."""
    body: dict[str, Any] = {
        "id": event.id,
        "stream_id": event.stream_id,
        "version": event.version,
        "position": event.position,
        "type": event.type,
        "data": event.data,
        "recorded_at": event.recorded_at,
    }
    trace_id = event.metadata.get(TRACE_ID_KEY)
    if isinstance(trace_id, str):
        body["trace_id"] = trace_id
    if admin_name is not None:
        body["name"] = admin_name
    return dumps(body)


def event_frame(channel: str, position: int, body: str) -> Frame:
    # Built by concatenation: the body is shared by every channel the event is routed to.
    text = f'{{"type":"event","channel":{dumps(channel)},"position":{position},"event":{body}}}'
    return Frame(text, position=position, event="event")


def message(kind: str, **fields: Any) -> Frame:
    """A control message (``welcome``, ``subscribed``, ``pong``, ``error``...)."""
    return Frame(dumps({"type": kind, **fields}), event=kind)


def topic_frame(channel: str, data: Any, position: int) -> Frame:
    return message("topic", channel=channel, data=data, position=position)


def notice_frame(channel: str, name: str, data: Any, position: int) -> Frame:
    return message("notice", channel=channel, name=name, data=data, position=position)


def error_frame(code: str, text: str, **fields: Any) -> Frame:
    return message("error", code=code, message=text, **fields)
