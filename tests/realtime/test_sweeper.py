"""Heartbeats spread over their interval: each round reaches one bucket of connections."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.identity._principal import ANONYMOUS
from headwater.realtime import RealtimeConfig
from headwater.realtime._connection import Connection
from headwater.realtime._sweeper import Sweeper

pytestmark = pytest.mark.anyio


class _Hub:
    def __init__(self, connections: set[Connection]) -> None:
        self.connections = connections
        self.position = 7
        self.events_routed = 0
        self.metric_sources: list[Any] = []

    def admin_tenants(self) -> list[str | None]:
        return []


async def test_each_connection_gets_one_heartbeat_per_interval_in_buckets() -> None:
    sent: dict[int, int] = {}

    def recorder(n: int) -> Any:
        async def send(message: dict[str, Any]) -> None:
            if '"heartbeat"' in message.get("text", ""):
                sent[n] = sent.get(n, 0) + 1

        return send

    now = [0.0]
    connections = set()
    for n in range(1000):
        conn = Connection(recorder(n), connection_id=str(n), max_queue=8, clock=lambda: now[0])
        conn.authenticate(ANONYMOUS, None)
        connections.add(conn)
    config = RealtimeConfig(heartbeat_interval=1.0, sweep_interval=0.2, idle_timeout=3600)
    sweeper = Sweeper(_Hub(connections), config, clock=lambda: now[0])  # type: ignore[arg-type]
    per_round = []
    for _ in range(5):  # one interval
        before = sum(sent.values())
        sweeper.sweep()
        per_round.append(sum(sent.values()) - before)
        now[0] += 0.2
    assert sorted(sent) == list(range(1000)), "every quiet connection got a heartbeat"
    assert set(sent.values()) == {1}
    assert max(per_round) < 400, per_round  # about 200 a round, not 1,000 at once
