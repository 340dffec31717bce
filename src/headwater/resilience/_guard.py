"""One call policy for any dependency: bulkhead, retries, circuit breaker, timeout.

::

    guard = Guard("webhooks", breaker=CircuitBreaker("webhooks"), retry=RetryPolicy(),
                  timeout=5.0, bulkhead=Bulkhead("webhooks", 20, max_queue=100))
    result = await guard.call(lambda: client.post(url, content=body))

The layers nest in this order, outermost first, and each place is deliberate:

1. bulkhead: one slot for the whole call, retries included, so retries cannot
   multiply the load on a struggling dependency;
2. retry: each attempt goes through the breaker, so an opening circuit stops the
   retries (``CircuitOpen`` is never retried);
3. breaker: counts every attempt's outcome, timeouts included;
4. timeout: a deadline per attempt, turned into ``CallTimeout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from headwater.errors import CallTimeout
from headwater.resilience._breaker import CircuitBreaker
from headwater.resilience._bulkhead import Bulkhead
from headwater.resilience._retry import RetryPolicy

T = TypeVar("T")


async def with_timeout(name: str, seconds: float | None, fn: Callable[[], Awaitable[T]]) -> T:
    """``await fn()`` with a deadline; a missed one raises ``CallTimeout``."""
    if seconds is None:
        return await fn()
    try:
        async with asyncio.timeout(seconds):
            return await fn()
    except TimeoutError as exc:
        raise CallTimeout(name, seconds) from exc


@dataclass
class Guard:
    name: str
    breaker: CircuitBreaker | None = None
    retry: RetryPolicy | None = None
    timeout: float | None = None
    bulkhead: Bulkhead | None = None

    async def _attempt(self, fn: Callable[[], Awaitable[T]]) -> T:
        if self.breaker is None:
            return await with_timeout(self.name, self.timeout, fn)
        return await self.breaker.call(lambda: with_timeout(self.name, self.timeout, fn))

    async def _retried(self, fn: Callable[[], Awaitable[T]]) -> T:
        if self.retry is None or self.retry.attempts <= 1:
            return await self._attempt(fn)
        return await self.retry.call(lambda: self._attempt(fn))

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        if self.bulkhead is None:
            return await self._retried(fn)
        async with self.bulkhead.slot():
            return await self._retried(fn)

    def snapshot(self) -> dict[str, Any]:
        """State for metrics and the dashboard."""
        out: dict[str, Any] = {"name": self.name}
        if self.breaker is not None:
            out["breaker"] = self.breaker.snapshot()
        if self.bulkhead is not None:
            out["bulkhead"] = {
                "running": self.bulkhead.running,
                "waiting": self.bulkhead.waiting,
                "rejected": self.bulkhead.rejected,
            }
        return out
