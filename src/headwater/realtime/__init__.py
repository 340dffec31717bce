"""Realtime: every committed event pushed to the clients allowed to see it.

WebSocket protocol (``/realtime/ws``; JSON text frames)
=========================================================

Authenticate first: a cookie session or an ``Authorization: Bearer`` header at the
handshake, or, as the first message, ``{"type": "auth", "token": "..."}``
(``"token": null`` continues as anonymous). The server answers
``{"type": "welcome", "connection_id", "subject", "tenant_id", "position",
"heartbeat_interval", "idle_timeout", "max_queue"}``. Sending ``auth`` again with a
fresh token for the same identity extends the connection (``reauthenticated``); a
connection whose credential expires is closed with 4001.

Client messages::

    {"type": "subscribe", "channel": "stream:order-1", "from_position": 41, "presence": false}
    {"type": "unsubscribe", "channel": "stream:order-1"}
    {"type": "ping", "id": 7}

Server messages::

    {"type": "subscribed", "channel", "position"}     live from position; if from_position
                                                       was given, the history after it
                                                       follows first
    {"type": "event", "channel", "position", "event": {"id", "stream_id", "version",
        "position", "type", "data", "recorded_at", "name" (admin feed only)}}
    {"type": "topic", "channel", "data", "position"}   a read model's latest state
    {"type": "notice", "channel": "admin", "name", "data", "position"}   not stored
    {"type": "presence", "channel", "members", "joined"?, "left"?}
    {"type": "unsubscribed", "channel"}
    {"type": "pong", "position", "id"?}  ·  {"type": "heartbeat", "position"}
    {"type": "error", "code", "message", "channel"?}

Channels are scoped by the caller's tenant, never named by it: ``stream:{id}``,
``category:{prefix}`` (streams ``{prefix}-...``), ``tenant``, ``admin``, and topics
registered by apps such as ``leaderboard:{game_id}``. Each kind has a policy; a
refused channel gets ``error`` with code ``forbidden``.

Resuming: keep the ``position`` of the last event received on each channel and, after
a reconnect, subscribe with ``from_position`` set to it. Events after it arrive in
order, history first and then live, with no gap and no duplicate.

Heartbeats both ways, as messages (``headwater serve`` turns the server's
WebSocket-level pings off; the hub keeps time itself): the server sends a
``heartbeat`` message to connections that got nothing for ``heartbeat_interval``;
a client must send something (``ping`` will do) at least every ``idle_timeout``
seconds or it is closed with 4000.

Close codes: 4000 idle timeout · 4001 unauthorized, authentication timeout or
credential expired · 4003 origin not allowed for a cookie session · 4008 resync:
the reason is ``{"resync_from": P}``; drop anything held above P and subscribe again
from P. Sent to a client too slow to keep up (P is the last position handed to it, the
lowest across its channels) and when the log was rewound under the server (a
failover that lost commits, a restored file: positions above P now name other
events) · 1001 server shutting down · 1013 try again later.

Server-Sent Events: ``GET /realtime/sse?channel=...`` (see ``headwater.realtime._sse``).
"""

from headwater.errors import (
    ChannelForbidden,
    IllegalTransition,
    InvalidChannel,
    UnknownChannelKind,
)
from headwater.identity._channels import (
    EXCLUDE_AUTHOR,
    Channel,
    ChannelPolicy,
    ChannelRegistry,
    requires,
)
from headwater.realtime._config import RealtimeConfig
from headwater.realtime._connection import CloseCode, Connection, ConnectionState
from headwater.realtime._hub import Hub, excluded_author
from headwater.realtime._module import DEFAULT_ADMIN_EVENTS, RealtimeModule
from headwater.realtime._topics import TopicProvider

__all__ = [
    "DEFAULT_ADMIN_EVENTS",
    "EXCLUDE_AUTHOR",
    "Channel",
    "ChannelForbidden",
    "ChannelPolicy",
    "ChannelRegistry",
    "CloseCode",
    "Connection",
    "ConnectionState",
    "Hub",
    "IllegalTransition",
    "InvalidChannel",
    "RealtimeConfig",
    "RealtimeModule",
    "TopicProvider",
    "UnknownChannelKind",
    "excluded_author",
    "requires",
]
