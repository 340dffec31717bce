"""Durable, downsampled metric history per node, in the store's own database.

Every alert sample is folded into two tiers (``TIERS``): 10-second points kept for
an hour and 1-minute points kept for a day, each point the mean of the samples that
fell in it. So a node keeps about 360 + 1,440 rows per figure, on SQLite and
PostgreSQL alike (table ``hw_metric_history``, migrated by the module), and the
dashboard can chart the last day after a restart. Rows older than a tier keeps are
pruned as new ones arrive. Longer history and cross-node queries are Prometheus'
job: scrape ``/metrics``.

Writing is an upsert that folds the new value into the point's running mean, so
two samples landing in the same point (a restart, a short interval) both count.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from headwater.eventstore import EventStore
from headwater.eventstore.migrations import apply_migrations, load_migrations

COMPONENT: Final = "observability"
_MIGRATIONS: Final = "headwater.observability.migrations"
#: (seconds per point, seconds kept).
TIERS: Final = ((10, 3600), (60, 86400))
#: Prune once every this many writes (a DELETE per sample would be wasted work).
PRUNE_EVERY: Final = 20

_UPSERT: Final = (
    "INSERT INTO hw_metric_history (node, resolution, t, metric, value, n) "
    "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (node, resolution, metric, t) DO UPDATE SET "
    "value = (hw_metric_history.value * hw_metric_history.n + excluded.value) "
    "/ (hw_metric_history.n + 1), n = hw_metric_history.n + 1"
)


class MetricHistory:
    def __init__(
        self,
        store: EventStore,
        node: str | None = None,
        *,
        tiers: Iterable[tuple[int, int]] = TIERS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.node = node or socket.gethostname()
        self.tiers = tuple(tiers)
        self._clock = clock
        self._writes = 0

    async def migrate(self) -> list[str]:
        migrations = load_migrations(_MIGRATIONS, COMPONENT, self.store.dialect)
        return await apply_migrations(self.store, migrations)

    async def record(self, sample: Mapping[str, float | None], at: float | None = None) -> int:
        """Fold one sample into every tier; returns the rows written."""
        now = self._clock() if at is None else at
        rows = [
            (self.node, resolution, int(now // resolution) * resolution, key, float(value))
            for resolution, _ in self.tiers
            for key, value in sorted(sample.items())
            if value is not None and math.isfinite(value)
        ]
        if not rows:
            return 0
        async with self.store.transaction() as tx:
            await tx.executemany(_UPSERT, rows)
            self._writes += 1
            if self._writes % PRUNE_EVERY == 1:
                for resolution, keep in self.tiers:
                    await tx.execute(
                        "DELETE FROM hw_metric_history WHERE node = ? AND resolution = ? AND t < ?",
                        (self.node, resolution, int(now - keep)),
                    )
        return len(rows)

    def resolution_for(self, seconds: float) -> int:
        """The finest tier that still holds ``seconds`` of history."""
        for resolution, keep in self.tiers:
            if seconds <= keep:
                return resolution
        return self.tiers[-1][0]

    async def read(
        self,
        *,
        seconds: float = 3600.0,
        metrics: Iterable[str] | None = None,
        node: str | None = None,
        resolution: int | None = None,
    ) -> dict[str, Any]:
        """``{"node", "resolution", "series": {metric: [[t, value], ...]}}``, oldest first."""
        resolution = resolution or self.resolution_for(seconds)
        since = int(self._clock() - seconds)
        wanted = None if metrics is None else sorted(set(metrics))
        sql = (
            "SELECT metric, t, value FROM hw_metric_history "
            "WHERE node = ? AND resolution = ? AND t >= ?"
        )
        params: list[Any] = [node or self.node, resolution, since]
        if wanted is not None:
            if not wanted:
                return {"node": node or self.node, "resolution": resolution, "series": {}}
            sql += f" AND metric IN ({', '.join('?' for _ in wanted)})"
            params += wanted
        rows = await self.store.fetchall(sql + " ORDER BY metric, t", params)
        series: dict[str, list[list[float]]] = {}
        for metric, t, value in rows:
            series.setdefault(str(metric), []).append([int(t), round(float(value), 6)])
        return {"node": node or self.node, "resolution": resolution, "series": series}
