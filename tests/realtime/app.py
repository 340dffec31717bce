"""The app the realtime tests serve: static tokens, a test append route, a counter topic.

Served by real ``headwater serve`` processes as ``tests.realtime.app:realtime`` and
``tests.realtime.app:appender``; small limits make slow consumers and heartbeats
quick to provoke.
"""

from __future__ import annotations

from typing import Any

from headwater.eventstore import RecordedEvent
from headwater.realtime import RealtimeConfig, TopicProvider
from headwater.testing._realtime import AppendModule, authenticator, realtime_module

#: Store types shown on the admin feed under the seed's names.
ADMIN_EVENTS = {"UserRegistered": "user.created", "FormCreated": "form.created"}


def _counter_key(event: RecordedEvent) -> str | None:
    prefix, _, key = event.stream_id.partition("-")
    return key if prefix == "counter" and key else None


async def _count(tenant_id: str | None, key: str) -> Any:
    # The app's read model would answer this; the tests count the stream's events.
    hub = realtime.hub
    assert hub is not None
    version = await hub.store.stream_version(f"counter-{key}", tenant_id=tenant_id)
    return {"count": version or 0}


COUNTER = TopicProvider(
    kind="counter",
    fetch=_count,
    triggers=frozenset({"Incremented"}),
    key_of=_counter_key,
    interval=0.5,
)

CONFIG = RealtimeConfig(
    max_queue=64,
    heartbeat_interval=1.0,
    sweep_interval=0.2,
    idle_timeout=30.0,
    sse_keepalive=0.5,
    metrics_interval=0.5,
)

realtime = realtime_module(CONFIG, admin_events=ADMIN_EVENTS, topics=[COUNTER])
appender = AppendModule(authenticator)

#: For the stalled-client test: a queue that never fills, so only the send timeout
#: can close a client that stopped reading.
STALLING = RealtimeConfig(max_queue=1_000_000, send_timeout=2.0, sweep_interval=0.2)
stalling = realtime_module(STALLING)

#: For the store-outage test: clients are closed with 1013 one second into an outage.
OUTAGE = RealtimeConfig(outage_close_after=1.0, sweep_interval=0.2, idle_timeout=60.0)
outage = realtime_module(OUTAGE)

#: For the subscribe-storm test: the defaults, as a node would run them.
storm = realtime_module(RealtimeConfig())
