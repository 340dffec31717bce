"""Reads of the analytics read model: each is a read of counters, never of events.

A funnel read sums ``an_funnel_counts`` over the entry days of the range (days x
steps rows); a retention read sums ``an_ret_counts`` and ``an_ret_sizes`` over the
cohorts of the range. The cost depends on the range and the declaration, not on how
many events were captured.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from headwater.analytics._definitions import DAY_MS, Declarations, Funnel, Retention, period_of
from headwater.analytics._projection import (
    ACTIONS,
    COHORT_SIZES,
    FUNNEL_COUNTS,
    RET_COUNTS,
    RET_SIZES,
)
from headwater.errors import UnknownDeclaration
from headwater.eventstore import EventStore

_EPOCH = date(1970, 1, 1)


def day_number(day: date) -> int:
    return (day - _EPOCH).days


def day_of(number: int) -> str:
    return (_EPOCH + timedelta(days=number)).isoformat()


class Analytics:
    def __init__(self, store: EventStore, declarations: Declarations) -> None:
        self.store = store
        self.declarations = declarations

    def _funnel(self, funnel_id: str) -> Funnel:
        for funnel in self.declarations.funnels:
            if funnel.id == funnel_id:
                return funnel
        raise UnknownDeclaration(f"no funnel {funnel_id!r}")

    def _retention(self, retention_id: str) -> Retention:
        for retention in self.declarations.retention:
            if retention.id == retention_id:
                return retention
        raise UnknownDeclaration(f"no retention table {retention_id!r}")

    async def funnel(
        self, tenant_id: str, funnel_id: str, start: date, end: date
    ) -> dict[str, Any]:
        """Subjects who entered in [start, end] and reached each step, with step
        conversion and drop-off."""
        funnel = self._funnel(funnel_id)
        rows = await self.store.fetchall(
            f"SELECT step, SUM(n) FROM {FUNNEL_COUNTS.ref} WHERE tenant_id = ? AND funnel = ? "
            f"AND entry_day BETWEEN ? AND ? GROUP BY step",
            (tenant_id, funnel_id, day_number(start), day_number(end)),
        )
        reached = {int(step): int(n) for step, n in rows}
        steps = []
        entered = reached.get(1, 0)
        previous = entered
        for index, name in enumerate(funnel.steps, start=1):
            count = reached.get(index, 0)
            steps.append(
                {
                    "step": index,
                    "event": name,
                    "count": count,
                    "conversion": round(count / entered, 6) if entered else 0.0,
                    "step_conversion": round(count / previous, 6) if previous else 0.0,
                    "drop_off": previous - count if index > 1 else 0,
                }
            )
            previous = count
        return {"id": funnel_id, "window_hours": funnel.window_hours, "steps": steps}

    async def retention(
        self, tenant_id: str, retention_id: str, start: date, end: date
    ) -> dict[str, Any]:
        """The retention triangle of the cohorts whose period starts in [start, end]."""
        retention = self._retention(retention_id)
        first = period_of(day_number(start) * DAY_MS, retention.period)
        last = period_of(day_number(end) * DAY_MS, retention.period)
        sizes = await self.store.fetchall(
            f"SELECT cohort, n FROM {RET_SIZES.ref} WHERE tenant_id = ? AND retention = ? "
            f"AND cohort BETWEEN ? AND ? ORDER BY cohort",
            (tenant_id, retention_id, first, last),
        )
        counts = await self.store.fetchall(
            f"SELECT cohort, age, n FROM {RET_COUNTS.ref} WHERE tenant_id = ? AND retention = ? "
            f"AND cohort BETWEEN ? AND ?",
            (tenant_id, retention_id, first, last),
        )
        by_cohort: dict[int, dict[int, int]] = {}
        for cohort, age, n in counts:
            by_cohort.setdefault(int(cohort), {})[int(age)] = int(n)
        cohorts = []
        for cohort, size in sizes:
            cohort, size = int(cohort), int(size)
            span = last - cohort + 1
            values = [by_cohort.get(cohort, {}).get(age, 0) for age in range(span)]
            cohorts.append(
                {
                    "cohort": self._period_start(cohort, retention.period),
                    "size": size,
                    "retained": values,
                    "rates": [round(v / size, 6) if size else 0.0 for v in values],
                }
            )
        return {"id": retention_id, "period": retention.period, "cohorts": cohorts}

    @staticmethod
    def _period_start(period: int, kind: str) -> str:
        return day_of(period if kind == "day" else period * 7 - 3)

    async def cohorts(self, tenant_id: str) -> list[dict[str, Any]]:
        rows = await self.store.fetchall(
            f"SELECT cohort, n FROM {COHORT_SIZES.ref} WHERE tenant_id = ?", (tenant_id,)
        )
        sizes = {str(c): int(n) for c, n in rows}
        return [
            {"id": c.id, "event": c.event, "min_count": c.min_count, "size": sizes.get(c.id, 0)}
            for c in self.declarations.cohorts
        ]

    async def actions(self, tenant_id: str, start: date, end: date) -> dict[str, Any]:
        """Actions per day: rows ``{"date", <action>: n...}`` and the action names."""
        rows = await self.store.fetchall(
            f"SELECT day, name, n FROM {ACTIONS.ref} WHERE tenant_id = ? AND day BETWEEN ? AND ?",
            (tenant_id, day_number(start), day_number(end)),
        )
        names = sorted({str(name) for _, name, _ in rows})
        days: dict[int, dict[str, Any]] = {
            d: {"date": day_of(d), **dict.fromkeys(names, 0)}
            for d in range(day_number(start), day_number(end) + 1)
        }
        for day, name, n in rows:
            days[int(day)][str(name)] = int(n)
        return {"names": names, "days": list(days.values())}

    async def get_dashboard_data(self, tenant_id: str, start: date, end: date) -> dict[str, Any]:
        """Everything the dashboard draws for [start, end]: actions over time, every
        funnel, every retention triangle and every cohort's size."""
        return {
            "range": {"start": start.isoformat(), "end": end.isoformat()},
            "generated_at": datetime.now(UTC).isoformat(),
            "actions": await self.actions(tenant_id, start, end),
            "funnels": [
                await self.funnel(tenant_id, f.id, start, end) for f in self.declarations.funnels
            ],
            "retention": [
                await self.retention(tenant_id, r.id, start, end)
                for r in self.declarations.retention
            ],
            "cohorts": await self.cohorts(tenant_id),
        }
