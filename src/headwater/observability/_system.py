"""The machine's CPU and memory, as the seeds' scaling thresholds read them (80 %, 85 %).

Whole-system figures, not this process's: a node starved by a neighbour on the same
host is as slow as one that is busy itself. Read through ``psutil`` when it is
installed (the ``observability`` extra), else from ``/proc`` on Linux; elsewhere
without psutil the figures are absent and their rules stay where they are.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

try:  # pragma: no cover - which branch depends on the installation
    import psutil as _psutil  # type: ignore[import-untyped,unused-ignore]
except ImportError:  # pragma: no cover
    _psutil = None

psutil: Any = _psutil

#: Reads closer together than this say little about CPU use: the last figure stands.
MIN_INTERVAL = 0.5


def _proc_cpu_times() -> tuple[float, float] | None:
    """(busy, total) jiffies of the whole machine, from ``/proc/stat``."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [float(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _cpu_times() -> tuple[float, float] | None:
    if psutil is None:
        return _proc_cpu_times()
    times = psutil.cpu_times()
    total = float(sum(times))
    idle = float(times.idle) + float(getattr(times, "iowait", 0.0))
    return total - idle, total


class CpuMeter:
    """System CPU use between two reads, in percent of every core (100 = all busy).

    Each meter keeps its own previous read, so the metrics scrape and the alert
    sampler measure their own intervals instead of resetting each other's.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_at = clock()
        self._last = _cpu_times()
        self.value: float | None = None

    def read(self) -> float | None:
        now = self._clock()
        if now - self._last_at < MIN_INTERVAL and self.value is not None:
            return self.value
        current = _cpu_times()
        if current is not None and self._last is not None and current[1] > self._last[1]:
            busy = current[0] - self._last[0]
            self.value = round(100.0 * busy / (current[1] - self._last[1]), 2)
        self._last, self._last_at = current, now
        return self.value


def memory_percent() -> float | None:
    """Memory in use on the machine (not reclaimable cache), in percent."""
    if psutil is not None:
        return float(psutil.virtual_memory().percent)
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            values = {line.split(":")[0]: float(line.split()[1]) for line in meminfo if ":" in line}
        total, available = values["MemTotal"], values["MemAvailable"]
    except (OSError, ValueError, KeyError, IndexError):
        return None
    return round(100.0 * (total - available) / total, 2) if total else None
