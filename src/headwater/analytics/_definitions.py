"""Funnels, retention tables and cohorts, declared as data.

They are handed to ``AnalyticsModule`` (or ``analytics_projection``) as values; the
projection's version is a digest of them, so changing a declaration rebuilds the read
model from the log on the next start, and it is current from the first event on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
EventName = Annotated[str, Field(min_length=1, max_length=200)]

DAY_MS = 86_400_000
#: A funnel may have this many steps. An event costs at most three statements per
#: funnel whose steps it matches, however many steps that is (see ``projection``).
MAX_STEPS = 50


class _Decl(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Funnel(_Decl):
    """Ordered steps: a subject enters with its first event of ``steps[0]`` (in log
    order) at time t0, then reaches step i+1 with the first event of ``steps[i]`` that
    comes after (in log order) the event that reached step i, at a time within
    [t0, t0 + window]. Counters are kept per entry day."""

    id: Ident
    steps: list[EventName] = Field(min_length=2, max_length=MAX_STEPS)
    window_hours: Annotated[float, Field(gt=0, le=24 * 366)] = 24

    @property
    def window_ms(self) -> int:
        return int(self.window_hours * 3_600_000)


class Retention(_Decl):
    """Cohorts by the period (day, or ISO week from Monday) of each subject's first
    ``start_event`` (any action when empty); a subject is retained in period k when it
    has a ``return_event`` (any action when empty) in the k-th period after its cohort's,
    at or after its first start event in log order."""

    id: Ident
    period: Literal["day", "week"] = "week"
    start_events: list[EventName] = Field(default_factory=list, max_length=20)
    return_events: list[EventName] = Field(default_factory=list, max_length=20)


class Cohort(_Decl):
    """Subjects who did ``event`` at least ``min_count`` times."""

    id: Ident
    event: EventName
    min_count: Annotated[int, Field(ge=1, le=1_000_000)] = 1


class Declarations(_Decl):
    funnels: list[Funnel] = Field(default_factory=list, max_length=100)
    retention: list[Retention] = Field(default_factory=list, max_length=50)
    cohorts: list[Cohort] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _unique(self) -> Declarations:
        for kind, items in (
            ("funnel", self.funnels),
            ("retention", self.retention),
            ("cohort", self.cohorts),
        ):
            ids = [item.id for item in items]
            if len(set(ids)) != len(ids):
                raise ValueError(f"{kind} ids must be unique")
        return self

    def digest(self) -> int:
        """A number that changes whenever a declaration does (the projection's version)."""
        text = self.model_dump_json()
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def period_of(ts_ms: int, period: str) -> int:
    """Days since the epoch, or Monday-based weeks since the epoch (1970-01-01 was a
    Thursday: day 0 is in week 0, whose Monday is 1969-12-29)."""
    day = ts_ms // DAY_MS
    return day if period == "day" else (day + 3) // 7


def declared(
    funnels: Sequence[Funnel] = (),
    retention: Sequence[Retention] = (),
    cohorts: Sequence[Cohort] = (),
) -> Declarations:
    return Declarations(funnels=list(funnels), retention=list(retention), cohorts=list(cohorts))
