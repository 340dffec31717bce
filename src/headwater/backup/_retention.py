"""Retention: keep N daily and M weekly base backups, and the log they need.

The rules pick bases to keep: the newest base of each of the ``daily`` most recent
days that have one, and of each of the ``weekly`` most recent ISO weeks that have
one. The newest base is always kept, whatever the rules say. Log segments are
dropped only when they end at or below the *oldest kept* base: everything after it
stays, so every kept base can still be rolled forward to the newest position, and
the newest full restore (newest base + the log after it) never loses a segment.
Without any base nothing of the log is dropped: the log is then the only full copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from headwater.backup._base import BaseInfo, delete_base, list_bases
from headwater.backup._manifest import SegmentEntry
from headwater.backup._shipper import Shipper
from headwater.errors import InvalidTarget


@dataclass(frozen=True, slots=True)
class RetentionRules:
    daily: int = 7
    weekly: int = 4

    def __post_init__(self) -> None:
        for name, value in (("daily", self.daily), ("weekly", self.weekly)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidTarget(f"keep {name} must be a non-negative integer, not {value!r}")


@dataclass(frozen=True, slots=True)
class RetentionPlan:
    keep: tuple[BaseInfo, ...]
    drop: tuple[BaseInfo, ...]
    #: Log segments ending at or below this position may go (0: none).
    prune_log_through: int


def plan_retention(bases: Sequence[BaseInfo], rules: RetentionRules) -> RetentionPlan:
    if not bases:
        return RetentionPlan((), (), 0)
    newest_first = sorted(bases, key=lambda b: (b.created_us, b.position), reverse=True)
    keep: dict[str, BaseInfo] = {newest_first[0].id: newest_first[0]}
    for count, period in ((rules.daily, _day), (rules.weekly, _week)):
        seen: list[object] = []
        for base in newest_first:
            key = period(base)
            if key in seen:
                continue
            if len(seen) == count:
                break
            seen.append(key)
            keep[base.id] = base  # the first met is the period's newest
    kept = tuple(sorted(keep.values(), key=lambda b: b.position))
    drop = tuple(b for b in sorted(bases, key=lambda b: b.position) if b.id not in keep)
    return RetentionPlan(kept, drop, kept[0].position)


def _day(base: BaseInfo) -> object:
    return base.created.date()


def _week(base: BaseInfo) -> object:
    return base.created.isocalendar()[:2]


@dataclass(frozen=True, slots=True)
class RetentionResult:
    plan: RetentionPlan
    dropped_segments: tuple[SegmentEntry, ...]


async def apply_retention(shipper: Shipper, rules: RetentionRules) -> RetentionResult:
    """Delete the bases the rules do not keep, then the log segments no kept base needs.

    Runs through the shipper, which owns the log's manifest (see ``Shipper.prune_through``).
    """
    plan = plan_retention(await list_bases(shipper.target), rules)
    for base in plan.drop:
        await delete_base(shipper.target, base)
    dropped = await shipper.prune_through(plan.prune_log_through) if plan.keep else []
    return RetentionResult(plan, tuple(dropped))
