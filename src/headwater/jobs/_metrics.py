"""What the job layer reports: one event per thing that happened, and counters of them.

Observability subscribes a callback (``JobsModule.listeners`` or a worker's
``listeners``) and turns :class:`JobEvent` into Prometheus metrics; :class:`JobStats`
is the built-in listener behind ``stats()``. Queue depth is not an event: it is read
from the database (``JobQueue.depth()``), because other nodes change it too.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger(__name__)

JobEventKind = Literal[
    "enqueued",  # a job was written (by this process)
    "started",  # a worker began an attempt
    "succeeded",
    "failed",  # an attempt failed and another will follow
    "dead",  # the last attempt failed, or the error was permanent
    "released",  # handed back unfinished at shutdown
    "lease_lost",  # the lease lapsed or was taken; the run was cancelled or not recorded
]


@dataclass(frozen=True, slots=True)
class JobEvent:
    kind: JobEventKind
    name: str
    job_id: str
    attempt: int = 0
    #: Seconds the handler ran (for succeeded, failed, dead).
    duration: float | None = None
    error: str | None = None


Listener = Callable[[JobEvent], None]


@dataclass
class JobStats:
    """Counters of :class:`JobEvent` kinds, overall and per job name; a listener."""

    counts: Counter[str] = field(default_factory=Counter)
    by_name: dict[str, Counter[str]] = field(default_factory=dict)
    run_seconds: float = 0.0
    runs: int = 0
    slowest: float = 0.0

    def __call__(self, event: JobEvent) -> None:
        self.counts[event.kind] += 1
        self.by_name.setdefault(event.name, Counter())[event.kind] += 1
        if event.duration is not None:
            self.runs += 1
            self.run_seconds += event.duration
            self.slowest = max(self.slowest, event.duration)

    def snapshot(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "by_name": {name: dict(counter) for name, counter in self.by_name.items()},
            "runs": self.runs,
            "mean_seconds": self.run_seconds / self.runs if self.runs else None,
            "slowest_seconds": self.slowest if self.runs else None,
        }


def emit(listeners: Iterable[Listener], event: JobEvent) -> None:
    """Call every listener; a failing listener is logged, never breaks the job."""
    for listener in listeners:
        try:
            listener(event)
        except Exception:
            log.exception("job listener %r failed on %s", listener, event.kind)
