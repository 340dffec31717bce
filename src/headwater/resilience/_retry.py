"""Retries with exponential backoff and jitter, on tenacity.

``RetryPolicy`` is data (so settings and tests can build one); ``retrying()`` turns it
into a tenacity ``AsyncRetrying``. Refusals of our own (an open circuit, a full
bulkhead) are never retried: trying again at once cannot succeed and only adds load.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from headwater.errors import BulkheadFull, CircuitOpen

T = TypeVar("T")

#: Errors that mean "refused before trying": retrying them is pointless.
NEVER_RETRIED: tuple[type[BaseException], ...] = (CircuitOpen, BulkheadFull)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    #: Total attempts, the first included.
    attempts: int = 3
    #: Delay before the second attempt; it doubles each time...
    initial: float = 0.1
    #: ...up to this many seconds...
    maximum: float = 5.0
    #: ...plus a uniform random 0..jitter seconds, so clients that failed together
    #: do not retry together.
    jitter: float = 0.1
    #: Only these errors are retried.
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def should_retry(self, exc: BaseException) -> bool:
        return isinstance(exc, self.retry_on) and not isinstance(exc, NEVER_RETRIED)

    def retrying(
        self, *, sleep: Callable[[float], Awaitable[None]] | None = None
    ) -> tenacity.AsyncRetrying:
        options = {} if sleep is None else {"sleep": sleep}
        return tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=tenacity.wait_exponential_jitter(
                multiplier=self.initial, max=self.maximum, jitter=self.jitter
            ),
            retry=tenacity.retry_if_exception(self.should_retry),
            reraise=True,
            **options,  # type: ignore[arg-type]
        )

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> T:
        async for attempt in self.retrying(sleep=sleep):
            with attempt:
                return await fn()
        raise AssertionError("unreachable: tenacity re-raises the last error")


NO_RETRY = RetryPolicy(attempts=1)
