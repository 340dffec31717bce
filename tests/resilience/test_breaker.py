from __future__ import annotations

import pytest

from headwater.resilience import (
    BreakerConfig,
    CircuitBreaker,
    CircuitOpen,
    CircuitState,
    IllegalTransition,
)

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def fail() -> None:
    raise ConnectionError("down")


async def succeed() -> str:
    return "ok"


def breaker(clock: Clock, **config: int | float) -> tuple[CircuitBreaker, list[tuple[str, str]]]:
    cb = CircuitBreaker("dep", BreakerConfig(**config), clock=clock)  # type: ignore[arg-type]
    changes: list[tuple[str, str]] = []
    cb.on_change(lambda name, old, new: changes.append((old.value, new.value)))
    return cb, changes


async def test_closed_opens_after_threshold_consecutive_failures() -> None:
    cb, changes = breaker(Clock(), failure_threshold=3, reset_timeout=10)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await cb.call(fail)
    await cb.call(succeed)  # a success resets the count
    for _ in range(3):
        with pytest.raises(ConnectionError):
            await cb.call(fail)
    assert cb.state is CircuitState.OPEN
    assert changes == [("closed", "open")]


async def test_open_refuses_without_calling_until_the_reset_timeout() -> None:
    clock = Clock()
    cb, _ = breaker(clock, failure_threshold=1, reset_timeout=10)
    with pytest.raises(ConnectionError):
        await cb.call(fail)
    calls = 0

    async def counted() -> str:
        nonlocal calls
        calls += 1
        return "ok"

    clock.now = 9.0
    with pytest.raises(CircuitOpen) as refused:
        await cb.call(counted)
    assert calls == 0
    assert refused.value.retry_after == pytest.approx(1.0)
    assert cb.rejected == 1


async def test_half_open_lets_one_probe_through_and_closes_on_success() -> None:
    clock = Clock()
    cb, changes = breaker(clock, failure_threshold=1, reset_timeout=10)
    with pytest.raises(ConnectionError):
        await cb.call(fail)
    clock.now = 10.0
    cb.admit()  # the probe
    assert cb.state is CircuitState.HALF_OPEN
    with pytest.raises(CircuitOpen):
        cb.admit()  # a second caller while the probe runs is refused
    cb.record_success()
    assert cb.state is CircuitState.CLOSED
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


async def test_a_failed_probe_reopens_for_another_full_timeout() -> None:
    clock = Clock()
    cb, changes = breaker(clock, failure_threshold=1, reset_timeout=10)
    with pytest.raises(ConnectionError):
        await cb.call(fail)
    clock.now = 10.0
    with pytest.raises(ConnectionError):
        await cb.call(fail)
    assert cb.state is CircuitState.OPEN
    assert cb.retry_after() == pytest.approx(10.0)
    assert changes[-1] == ("half_open", "open")


async def test_success_threshold_needs_several_probes() -> None:
    clock = Clock()
    cb, _ = breaker(
        clock, failure_threshold=1, reset_timeout=1, success_threshold=2, half_open_max_calls=2
    )
    with pytest.raises(ConnectionError):
        await cb.call(fail)
    clock.now = 1.0
    await cb.call(succeed)
    assert cb.state is CircuitState.HALF_OPEN
    await cb.call(succeed)
    assert cb.state is CircuitState.CLOSED


async def test_errors_that_are_not_failures_do_not_open_it() -> None:
    cb = CircuitBreaker(
        "dep",
        BreakerConfig(failure_threshold=1),
        is_failure=lambda exc: not isinstance(exc, ValueError),
    )

    async def bad_input() -> None:
        raise ValueError("the caller's fault")

    with pytest.raises(ValueError, match="fault"):
        await cb.call(bad_input)
    assert cb.state is CircuitState.CLOSED


def test_illegal_transitions_raise() -> None:
    cb = CircuitBreaker("dep")
    with pytest.raises(IllegalTransition):
        cb._move(CircuitState.HALF_OPEN)
    assert cb.snapshot() == {
        "name": "dep",
        "state": "closed",
        "consecutive_failures": 0,
        "rejected": 0,
        "opened": 0,
    }
