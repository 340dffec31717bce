"""The garbage collector on a node holding thousands of idle sockets: short pauses.

CPython's full collection walks every container object the collector tracks. A node
with 20,000 WebSockets holds millions of them (each connection's protocol, buffers,
coroutine frames, scope), so one full collection held the loop for 2-4 s. What stays
alive for the life of the process (modules, the app, its routes) and what stays alive
for the life of a connection need not be walked again and again:

* at start-up, after a collection, :func:`gc.freeze` moves everything allocated so far
  to the permanent generation (what Instagram does with its CPython workers);
* the automatic full collection is switched off (a huge third threshold); young
  collections run as usual, with a larger first threshold so a burst of frames does
  not trigger one every 700 allocations;
* every ``interval`` seconds the survivors of the young generations are frozen too:
  they are the long-lived connection objects. Freezing is O(1) (lists are merged);
* frozen objects are still freed by reference counting. Only a *cycle* among frozen
  objects waits: once enough connections closed since the last full collection
  (``churn``, a share of the open ones), one full collection runs, timed and logged,
  and what survives is frozen again. On a steady node that is rare; the figure is
  in :attr:`GcKeeper.stats` so it is seen, not guessed.

Every collection's pause is measured with :data:`gc.callbacks`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable
from typing import Any, Final

log = logging.getLogger("headwater.realtime")

#: Young collections after this many net allocations (CPython's default is 700): fewer
#: collections during a fan-out burst, each still a few milliseconds at most.
YOUNG_THRESHOLD: Final = 5_000
#: Young collections between two of the middle generation (CPython's default is 10):
#: the middle generation then holds at most ~25,000 objects, a few milliseconds' walk.
MIDDLE_THRESHOLD: Final = 5
#: A third threshold no counter reaches: full collections only when the keeper says.
NO_AUTOMATIC_FULL: Final = 1_000_000_000


class GcKeeper:
    """Freezes long-lived objects, runs the rare full collection, measures every pause."""

    def __init__(
        self,
        open_count: Callable[[], int],
        *,
        interval: float = 10.0,
        churn: float = 0.5,
        min_churn: int = 2000,
    ) -> None:
        self._open_count = open_count
        self._interval = interval
        self._churn = churn
        self._min_churn = min_churn
        #: Connections closed since the last full collection (the hub counts them).
        self.closed_since_full = 0
        self._task: asyncio.Task[None] | None = None
        self._started_at = 0.0
        self._thresholds: tuple[int, int, int] | None = None
        self.stats: dict[str, Any] = {
            "collections": 0,
            "pause_max_ms": 0.0,
            "pause_total_ms": 0.0,
            "full_collections": 0,
            "frozen": 0,
        }

    def start(self) -> None:
        self._thresholds = gc.get_threshold()
        gc.collect()
        gc.freeze()
        gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, NO_AUTOMATIC_FULL)
        gc.callbacks.append(self._measure)
        self.stats["frozen"] = gc.get_freeze_count()
        self._task = asyncio.create_task(self._run(), name="headwater-realtime-gc")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._measure)
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None

    def reset_stats(self) -> None:
        self.stats.update(collections=0, pause_max_ms=0.0, pause_total_ms=0.0)

    def _measure(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started_at = time.perf_counter()
            return
        pause = (time.perf_counter() - self._started_at) * 1000
        stats = self.stats
        stats["collections"] += 1
        stats["pause_total_ms"] += pause
        if pause > stats["pause_max_ms"]:
            stats["pause_max_ms"] = pause
        if pause > 50:
            log.warning("realtime: a gen%s collection took %.0f ms", info["generation"], pause)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self.tend()

    def tend(self) -> None:
        """Freeze the survivors; collect fully only after enough connections closed."""
        if self.closed_since_full >= max(self._min_churn, self._churn * self._open_count()):
            self.closed_since_full = 0
            self.stats["full_collections"] += 1
            gc.unfreeze()
            gc.collect()  # timed by _measure: logged if long
        else:
            gc.collect(1)  # young garbage dies here rather than wait frozen
        gc.freeze()
        self.stats["frozen"] = gc.get_freeze_count()
