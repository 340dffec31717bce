"""A circuit breaker as an explicit state machine: CLOSED -> OPEN -> HALF_OPEN -> ...

::

    CLOSED ──(failure_threshold consecutive failures)──▶ OPEN
    OPEN ──(reset_timeout elapsed; the next call is a probe)──▶ HALF_OPEN
    HALF_OPEN ──(success_threshold probe successes)──▶ CLOSED
    HALF_OPEN ──(a probe fails)──▶ OPEN

Any other transition is a bug and raises. While OPEN a call is refused with
``CircuitOpen`` before the dependency is touched: a dead Redis then costs a few
comparisons per call instead of a connect timeout. Written by hand because the
libraries on offer (pybreaker, aiobreaker) are sync-first or unmaintained, and the
machine is forty lines; what matters is that its states are named and observable.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from headwater.errors import CircuitOpen, IllegalTransition

T = TypeVar("T")


class CircuitState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


_TRANSITIONS: dict[CircuitState, frozenset[CircuitState]] = {
    CircuitState.CLOSED: frozenset({CircuitState.OPEN}),
    CircuitState.OPEN: frozenset({CircuitState.HALF_OPEN}),
    CircuitState.HALF_OPEN: frozenset({CircuitState.CLOSED, CircuitState.OPEN}),
}


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    #: Consecutive failures, while CLOSED, that open the circuit.
    failure_threshold: int = 5
    #: Seconds to stay OPEN before letting a probe through.
    reset_timeout: float = 30.0
    #: Probes allowed at once while HALF_OPEN; the rest are refused.
    half_open_max_calls: int = 1
    #: Probe successes that close the circuit again.
    success_threshold: int = 1


#: Called on every state change with (breaker name, old state, new state).
Listener = Callable[[str, CircuitState, CircuitState], None]


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        is_failure: Callable[[BaseException], bool] = lambda exc: True,
    ) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        self._clock = clock
        self._is_failure = is_failure
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._successes = 0
        self._probes = 0
        self._opened_at = 0.0
        self._listeners: list[Listener] = []
        #: Counters for metrics: how often each state was entered, calls refused.
        self.transitions: dict[CircuitState, int] = dict.fromkeys(CircuitState, 0)
        self.rejected = 0

    # --- observation -------------------------------------------------------------------

    @property
    def state(self) -> CircuitState:
        return self._state

    def retry_after(self) -> float:
        """Seconds until an OPEN circuit lets a probe through (0 otherwise)."""
        if self._state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.config.reset_timeout - self._clock())

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self._state.value,
            "consecutive_failures": self._failures,
            "rejected": self.rejected,
            "opened": self.transitions[CircuitState.OPEN],
        }

    # --- the machine --------------------------------------------------------------------

    def _move(self, target: CircuitState) -> None:
        old = self._state
        if target not in _TRANSITIONS[old]:
            raise IllegalTransition(f"circuit {self.name}", old.value, target.value)
        self._state = target
        self._failures = self._successes = self._probes = 0
        if target is CircuitState.OPEN:
            self._opened_at = self._clock()
        self.transitions[target] += 1
        for listener in self._listeners:
            listener(self.name, old, target)

    def admit(self) -> None:
        """Let one call through or raise ``CircuitOpen``; pair with ``record_*``."""
        state = self._state
        if state is CircuitState.CLOSED:
            return
        if state is CircuitState.OPEN:
            if self.retry_after() > 0:
                self.rejected += 1
                raise CircuitOpen(self.name, self.retry_after())
            self._move(CircuitState.HALF_OPEN)
        if self._probes >= self.config.half_open_max_calls:
            self.rejected += 1
            raise CircuitOpen(self.name, 0.0)
        self._probes += 1

    def record_success(self) -> None:
        if self._state is CircuitState.CLOSED:
            self._failures = 0
        elif self._state is CircuitState.HALF_OPEN:
            self._probes -= 1
            self._successes += 1
            if self._successes >= self.config.success_threshold:
                self._move(CircuitState.CLOSED)

    def record_failure(self) -> None:
        if self._state is CircuitState.CLOSED:
            self._failures += 1
            if self._failures >= self.config.failure_threshold:
                self._move(CircuitState.OPEN)
        elif self._state is CircuitState.HALF_OPEN:
            self._move(CircuitState.OPEN)

    def record_cancelled(self) -> None:
        """A call abandoned by its caller: neither verdict, but a probe slot frees up."""
        if self._state is CircuitState.HALF_OPEN and self._probes > 0:
            self._probes -= 1

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        self.admit()
        try:
            result = await fn()
        except Exception as exc:
            if self._is_failure(exc):
                self.record_failure()
            else:
                self.record_success()
            raise
        except BaseException:
            self.record_cancelled()
            raise
        self.record_success()
        return result
