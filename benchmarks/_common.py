"""Helpers shared by the benchmarks: timing, interleaved repeats, the JSON summary.

Every benchmark prints progress to stderr and exactly one JSON object as the last
line of stdout, so ``tail -n 1`` of its output is machine-readable.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import statistics
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

_STARTED = time.perf_counter()

#: One timed run: (events it handled, seconds its timed part took).
Sample: TypeAlias = tuple[int, float]
#: Runs one timed repeat of one side; sync or async.
Round: TypeAlias = Callable[[], Sample | Awaitable[Sample]]


def log(message: str) -> None:
    """One progress line on stderr, stamped with seconds since start."""
    print(f"[{time.perf_counter() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass(slots=True)
class Rate:
    """Events per second of each timed repeat of the same work."""

    samples: list[float] = field(default_factory=list)
    #: Events per repeat: the same on every repeat, and on every side of a comparison.
    events: set[int] = field(default_factory=set)

    def add(self, sample: Sample) -> float:
        events, seconds = sample
        self.events.add(events)
        self.samples.append(events / seconds)
        return self.samples[-1]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator, 2)


def met(ratios: Mapping[str, float | None], targets: Mapping[str, float]) -> dict[str, bool]:
    """Which ratios reach their target; a missing ratio never counts as met."""
    return {name: (ratios.get(name) or 0.0) >= target for name, target in targets.items()}


class Results:
    """Rates by name; a side that fails gets a null rate and its error, never a crash."""

    def __init__(self) -> None:
        self.rates: dict[str, float | None] = {}
        self.samples: dict[str, list[float]] = {}
        self.events: dict[str, int | list[int]] = {}
        self.errors: dict[str, str] = {}
        self.facts: dict[str, Any] = {}

    def record(self, name: str, rate: Rate) -> None:
        self.rates[name] = round(rate.median, 1)
        self.samples[name] = [round(s) for s in rate.samples]
        counts = sorted(rate.events)
        self.events[name] = counts[0] if len(counts) == 1 else counts

    def fail(self, exc: BaseException, *names: str) -> None:
        log(f"FAILED {', '.join(names)}: {exc!r}")
        traceback.print_exception(exc, file=sys.stderr)
        for name in names:
            self.rates[name] = None
            self.errors.setdefault(name, f"{type(exc).__name__}: {exc}")

    @contextlib.contextmanager
    def guard(self, *names: str) -> Iterator[None]:
        """Failures inside fail every one of ``names`` and are not re-raised."""
        try:
            yield
        except Exception as exc:
            self.fail(exc, *names)

    def get(self, name: str) -> float | None:
        return self.rates.get(name)


@dataclass(slots=True)
class Lineup:
    """The sides of one comparison, each with its timed round and its warm-up."""

    rounds: dict[str, Round] = field(default_factory=dict)
    warmups: dict[str, Round] = field(default_factory=dict)

    def add(self, name: str, run: Round, warmup: Round | None = None) -> None:
        self.rounds[name] = run
        if warmup is not None:
            self.warmups[name] = warmup


async def contest(results: Results, lineup: Lineup, repeats: int) -> None:
    """Warm every side up, then time them in turns: repeat 1 of each, repeat 2 of each...

    Interleaving spreads background noise of a shared machine evenly over the sides;
    the starting side rotates so none always runs first. A side that fails drops out
    with its error recorded; the others carry on.
    """
    live = {name: run for name, run in lineup.rounds.items() if name not in results.errors}
    for name in list(live):
        warmup = lineup.warmups.get(name)
        if warmup is not None and not await _attempt(results, name, warmup):
            del live[name]
    rates = {name: Rate() for name in live}
    for repeat in range(repeats):
        names = list(live)
        if not names:
            return
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            sample = await _attempt(results, name, live[name])
            if sample is None:
                del live[name]
                continue
            eps = rates[name].add(sample)
            log(f"  {name}: repeat {repeat + 1}/{repeats}: {eps:,.0f} events/s")
    for name in live:
        results.record(name, rates[name])


async def _attempt(results: Results, name: str, run: Round) -> Sample | None:
    try:
        outcome = run()
        if inspect.isawaitable(outcome):
            return await outcome
        return outcome
    except Exception as exc:
        results.fail(exc, name)
        return None


def run_threads(clients: int, work: Callable[[int], None]) -> float:
    """Run ``work(i)`` on ``clients`` threads released together; seconds until all end."""
    barrier = threading.Barrier(clients + 1)
    failures: list[BaseException] = []

    def client(index: int) -> None:
        barrier.wait()
        try:
            work(index)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise failures[0]
    return elapsed


def emit_summary(summary: Mapping[str, Any]) -> None:
    """The one machine-readable line, last on stdout."""
    sys.stdout.flush()
    print(json.dumps(summary), flush=True)
