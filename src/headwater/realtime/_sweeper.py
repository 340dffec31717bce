"""Periodic chores over every connection of the node, in one task for all of them.

One loop over the connections each interval is cheaper, in memory and wake-ups,
than a timer per connection: authentication and idle timeouts, credential expiry,
heartbeats to connections that got nothing lately, ``metrics.updated`` notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from headwater.realtime._config import RealtimeConfig
from headwater.realtime._connection import CloseCode, ConnectionState
from headwater.realtime._frames import message

if TYPE_CHECKING:
    from headwater.realtime._hub import Hub


class Sweeper:
    def __init__(
        self,
        hub: Hub,
        config: RealtimeConfig,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._hub = hub
        self._config = config
        self._clock = clock
        self._wall_clock = wall_clock
        self._task: asyncio.Task[None] | None = None
        self._last_heartbeat = clock()
        self._last_metrics = clock()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="headwater-realtime-sweeper")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._config.sweep_interval)
            with contextlib.suppress(Exception):
                self.sweep()

    def sweep(self) -> None:
        config = self._config
        now = self._clock()
        wall = self._wall_clock()
        heartbeat = None
        if now - self._last_heartbeat >= config.heartbeat_interval:
            self._last_heartbeat = now
            heartbeat = message("heartbeat", position=self._hub.position)
        for conn in list(self._hub.connections):
            if conn.state is ConnectionState.CONNECTING:
                if now - conn.opened_at > config.auth_timeout:
                    conn.close(CloseCode.UNAUTHORIZED, "authentication timeout")
            elif not conn.is_authenticated:
                continue
            elif conn.stalled_for(now) > config.send_timeout:
                # Before the idle check: a client that stopped reading has usually
                # stopped writing too, and 4008 tells it where to resume.
                conn.close(CloseCode.TOO_SLOW)
            elif now - conn.last_received > config.idle_timeout:
                conn.close(CloseCode.IDLE_TIMEOUT, "idle timeout")
            elif conn.expires_at is not None and wall >= conn.expires_at:
                conn.close(CloseCode.UNAUTHORIZED, "credential expired")
            elif heartbeat is not None:
                # Only connections that got nothing since the last round need one.
                if conn.sent_count == conn.heartbeat_mark:
                    conn.push(heartbeat)
                conn.heartbeat_mark = conn.sent_count
        if config.metrics_interval and now - self._last_metrics >= config.metrics_interval:
            self._last_metrics = now
            self.publish_metrics()

    def publish_metrics(self) -> None:
        tenants = self._hub.admin_tenants()
        if not tenants:
            return
        per_tenant = Counter(conn.principal.tenant_id for conn in self._hub.connections)
        shared: dict[str, Any] = {}
        for source in self._hub.metric_sources:
            figures = source()
            if figures:
                shared.update(figures)
        for tenant in tenants:
            self._hub.notify_admin(
                tenant,
                "metrics.updated",
                {
                    **shared,
                    "connections": per_tenant[tenant],
                    "position": self._hub.position,
                    "events_routed": self._hub.events_routed,
                },
            )
