"""Bulkheads, retries, timeouts, and the Guard that combines them."""

from __future__ import annotations

import asyncio

import pytest

from headwater.resilience import (
    BreakerConfig,
    Bulkhead,
    BulkheadFull,
    CallTimeout,
    CircuitBreaker,
    CircuitOpen,
    Guard,
    RetryPolicy,
)

pytestmark = pytest.mark.anyio


async def test_bulkhead_rejects_over_capacity_and_queue() -> None:
    bulkhead = Bulkhead("dep", 2, max_queue=1)
    release = asyncio.Event()

    async def hold() -> None:
        async with bulkhead.slot():
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(3)]  # 2 running, 1 queued
    await asyncio.sleep(0.01)
    assert (bulkhead.running, bulkhead.waiting) == (2, 1)
    with pytest.raises(BulkheadFull):
        await bulkhead.acquire()
    assert bulkhead.rejected == 1
    release.set()
    await asyncio.gather(*holders)
    assert (bulkhead.running, bulkhead.waiting) == (0, 0)


async def test_bulkhead_queue_timeout_refuses_a_waiter() -> None:
    bulkhead = Bulkhead("dep", 1, max_queue=5, queue_timeout=0.05)
    await bulkhead.acquire()
    with pytest.raises(BulkheadFull):
        await bulkhead.acquire()
    bulkhead.release()
    await bulkhead.acquire()  # free again


async def test_retry_fails_twice_then_succeeds_with_growing_delays() -> None:
    delays: list[float] = []
    attempts = 0

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("transient")
        return "done"

    policy = RetryPolicy(attempts=5, initial=0.1, maximum=10, jitter=0.05)
    assert await policy.call(flaky, sleep=sleep) == "done"
    assert attempts == 3
    assert len(delays) == 2
    assert 0.1 <= delays[0] <= 0.15
    assert 0.2 <= delays[1] <= 0.25  # doubled, plus jitter


async def test_retry_gives_up_after_its_attempts_and_reraises() -> None:
    attempts = 0

    async def down() -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("down")

    async def no_sleep(seconds: float) -> None:
        return None

    with pytest.raises(ConnectionError):
        await RetryPolicy(attempts=3).call(down, sleep=no_sleep)
    assert attempts == 3


async def test_an_open_circuit_is_not_retried() -> None:
    breaker = CircuitBreaker("dep", BreakerConfig(failure_threshold=1, reset_timeout=60))
    guard = Guard("dep", breaker=breaker, retry=RetryPolicy(attempts=5, initial=0.001))
    attempts = 0

    async def down() -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("down")

    with pytest.raises(CircuitOpen):
        await guard.call(down)
    assert attempts == 1  # the second attempt met the open breaker and stopped


async def test_a_slow_call_times_out_and_counts_as_a_failure() -> None:
    breaker = CircuitBreaker("dep", BreakerConfig(failure_threshold=1))
    guard = Guard("dep", breaker=breaker, timeout=0.02)

    async def slow() -> None:
        await asyncio.sleep(1)

    with pytest.raises(CallTimeout):
        await guard.call(slow)
    assert breaker.state.value == "open"


async def test_guard_bulkhead_caps_concurrent_calls() -> None:
    guard = Guard("dep", bulkhead=Bulkhead("dep", 3))
    running = peak = 0

    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    outcomes = await asyncio.gather(*(guard.call(work) for _ in range(10)), return_exceptions=True)
    assert peak == 3
    assert sum(isinstance(o, BulkheadFull) for o in outcomes) == 7
    assert guard.snapshot()["bulkhead"]["rejected"] == 7
