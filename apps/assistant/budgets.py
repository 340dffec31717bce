"""Token budgets per user and per tenant, per calendar month (UTC), read from ``as_usage``.

The counts are exact (an inline projection charges each completed reply once, in the
transaction that records it); the check before a request is not a reservation, so
replies already running when a budget runs out may overshoot it by their own size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apps.assistant.projections import USAGE
from headwater.errors import RateLimited
from headwater.eventstore import EventStore


class BudgetExhausted(RateLimited):
    code = "budget_exhausted"
    http_status = 429


def month_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


def reset_of(moment: datetime) -> datetime:
    """The first instant of the next UTC month: when this month's budgets start over."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Budgets:
    user: int
    tenant: int

    async def usage(
        self, store: EventStore, tenant_id: str, user_id: str, month: str
    ) -> dict[str, int]:
        rows = await store.fetchall(
            f"SELECT scope, tokens FROM {USAGE.ref} WHERE tenant_id = ? AND month = ? "
            "AND scope IN (?, ?)",
            [tenant_id, month, f"user:{user_id}", "tenant"],
        )
        used = {str(scope): int(tokens) for scope, tokens in rows}
        return {"user": used.get(f"user:{user_id}", 0), "tenant": used.get("tenant", 0)}

    async def status(
        self, store: EventStore, tenant_id: str, user_id: str, now: datetime | None = None
    ) -> dict[str, Any]:
        moment = now or datetime.now(UTC)
        used = await self.usage(store, tenant_id, user_id, month_of(moment))
        return {
            "month": month_of(moment),
            "user": {"used": used["user"], "budget": self.user},
            "tenant": {"used": used["tenant"], "budget": self.tenant},
            "resets_at": reset_of(moment).isoformat(),
        }

    async def check(self, store: EventStore, tenant_id: str, user_id: str) -> None:
        moment = datetime.now(UTC)
        used = await self.usage(store, tenant_id, user_id, month_of(moment))
        reset = reset_of(moment)
        for scope, budget in (("user", self.user), ("tenant", self.tenant)):
            if used[scope] >= budget:
                raise BudgetExhausted(
                    f"the {scope}'s token budget for {month_of(moment)} is spent "
                    f"({used[scope]} of {budget}); it resets at {reset.isoformat()}",
                    retry_after=(reset - moment).total_seconds(),
                    scope=scope,
                    used=used[scope],
                    budget=budget,
                    resets_at=reset.isoformat(),
                )
