"""Periodic jobs: every N seconds, or on a simple cron schedule, once per period cluster-wide.

Every node runs a :class:`Scheduler`, and they may all tick at the same moment. A
period is enqueued by whichever node first advances the schedule's row in
``hw_job_periods`` from an older period to this one (a compare-and-set in the same
transaction as the insert), so each period yields exactly one job. Each job also
carries the dedupe key ``periodic:<schedule>:<period>``.

Periods are aligned to the Unix epoch (``every=60`` fires at each UTC minute) and
cron fields are read in UTC. A period missed entirely (every node down) is skipped,
not caught up: at most the current period is enqueued, and a cron period only
within ``misfire_grace`` of its start.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

from headwater.errors import InvalidJob
from headwater.jobs._job import from_micros, new_job
from headwater.jobs._queue import JobQueue

log = logging.getLogger(__name__)

_MINUTE: Final = 60_000_000
_FIELDS: Final = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12))


@dataclass(frozen=True, slots=True)
class Cron:
    """Five fields, ``minute hour day-of-month month day-of-week`` (0 or 7 = Sunday),
    each ``*``, ``N``, ``A-B``, ``*/S``, ``A-B/S`` or a comma list of those."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    #: Classic cron: when both day fields are restricted, either may match.
    day_or_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Cron:
        if not isinstance(text, str):
            raise InvalidJob(f"a cron schedule is a string, not {type(text).__name__}")
        return _parse_cron(text)

    @classmethod
    def _parse(cls, text: str) -> Cron:
        parts = text.split()
        if len(parts) != 5:
            raise InvalidJob(f"a cron schedule has 5 fields, not {text!r}")
        pairs = zip(parts[:4], _FIELDS, strict=True)
        sets = [_field(part, low, high) for part, (_, low, high) in pairs]
        weekdays = frozenset(d % 7 for d in _field(parts[4], 0, 7))
        both = parts[2] != "*" and parts[4] != "*"
        return cls(sets[0], sets[1], sets[2], sets[3], weekdays, both)

    def matches(self, micros: int) -> bool:
        moment = from_micros(micros)
        if moment.minute not in self.minutes or moment.hour not in self.hours:
            return False
        if moment.month not in self.months:
            return False
        day = moment.day in self.days
        weekday = (moment.isoweekday() % 7) in self.weekdays
        return (day or weekday) if self.day_or_weekday else (day and weekday)


@functools.lru_cache(maxsize=128)
def _parse_cron(text: str) -> Cron:
    return Cron._parse(text)


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        span, _, step_text = item.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if span == "*":
                start, end = low, high
            elif "-" in span:
                start, end = (int(v) for v in span.split("-", 1))
            else:
                start = end = int(span)
                if step_text:
                    end = high
        except ValueError as exc:
            raise InvalidJob(f"bad cron field {text!r}") from exc
        if step < 1 or not low <= start <= end <= high:
            raise InvalidJob(f"cron field {text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class Periodic:
    """Enqueue job ``name`` every ``every`` seconds or on ``cron``."""

    name: str
    every: timedelta | float | None = None
    cron: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    #: The schedule's own name (default: the job name); one row per schedule.
    key: str | None = None
    #: How late a cron period may still be enqueued.
    misfire_grace: float = 60.0
    #: Passed to enqueue: attempts, backoff, priority.
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.every is None) == (self.cron is None):
            raise InvalidJob("a periodic job needs exactly one of every= or cron=")
        if self.every is not None and not self.interval_micros >= 1_000_000:
            raise InvalidJob("every= must be at least one second")
        if self.cron is not None:
            Cron.parse(self.cron)
        bad = set(self.options) - {"attempts", "backoff", "priority"}
        if bad:
            raise InvalidJob(f"periodic jobs do not take {sorted(bad)}")
        new_job(self.name, self.payload, now=0, **self.options)  # validate now

    @property
    def schedule(self) -> str:
        return self.key or self.name

    @property
    def interval_micros(self) -> int:
        every = self.every
        seconds = every.total_seconds() if isinstance(every, timedelta) else float(every or 0)
        return round(seconds * 1_000_000)

    def period(self, now: int) -> int | None:
        """The start of the period to enqueue at ``now``, or None when there is none."""
        if self.cron is None:
            interval = self.interval_micros
            return now - now % interval
        cron = Cron.parse(self.cron)
        minute = now - now % _MINUTE
        earliest = now - round(self.misfire_grace * 1_000_000)
        while minute >= earliest:
            if cron.matches(minute):
                return minute
            minute -= _MINUTE
        return None


class Scheduler:
    """Enqueues the periodic jobs of this node; safe to run on every node."""

    def __init__(
        self, queue: JobQueue, schedules: Iterable[Periodic], *, tick: float = 1.0
    ) -> None:
        self.queue = queue
        self.schedules: Sequence[Periodic] = list(schedules)
        names = [s.schedule for s in self.schedules]
        if len(set(names)) != len(names):
            raise InvalidJob("two periodic schedules share a key")
        self.tick_seconds = tick
        self._task: asyncio.Task[None] | None = None

    async def tick(self, now: int | None = None) -> list[str]:
        """Enqueue every schedule's current period if no node has yet; the new job ids."""
        now = self.queue.now() if now is None else now
        enqueued = []
        for schedule in self.schedules:
            period = schedule.period(now)
            if period is None:
                continue
            job = new_job(
                schedule.name,
                schedule.payload,
                now=now,
                dedupe_key=f"periodic:{schedule.schedule}:{period}",
                **schedule.options,
            )
            if await self.queue.claim_period(schedule.schedule, period, job):
                enqueued.append(job.id)
        return enqueued

    async def start(self) -> None:
        if self._task is None and self.schedules:
            self._task = asyncio.create_task(self._run(), name="job scheduler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as exc:
                log.warning("periodic jobs: tick failed (%s); next tick retries", exc)
            await asyncio.sleep(self.tick_seconds)
