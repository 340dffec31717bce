"""Job records, the job state machine, and retry backoff.

A job moves through these states; any other move raises ``IllegalJobTransition``::

    SCHEDULED ──(due)──┐
    QUEUED ────────────┼──▶ RUNNING ──▶ SUCCEEDED
    FAILED ──(due)─────┘      │  │
       ▲                      │  └────▶ DEAD ──(retry)──▶ QUEUED
       └──(attempts left)─────┘
    RUNNING ──(released at shutdown)──▶ QUEUED

FAILED means "an attempt failed and the next one waits for ``run_at``"; DEAD is the
dead-letter state, kept with its last error until someone retries it. The SQL that
moves jobs takes its source states from :data:`TRANSITIONS`, so the database can
only ever make the moves drawn here.
"""

from __future__ import annotations

import enum
import functools
import math
import random
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import orjson

from headwater.errors import IllegalJobTransition, InvalidEventData, InvalidJob
from headwater.eventstore._records import check_json_object
from headwater.identity._trace import TraceContext, current_trace


class JobState(enum.StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    DEAD = "dead"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.DEAD)


S = JobState
#: Every legal move, source -> targets.
TRANSITIONS: Final[Mapping[JobState, frozenset[JobState]]] = {
    S.SCHEDULED: frozenset({S.RUNNING, S.QUEUED}),
    S.QUEUED: frozenset({S.RUNNING}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.DEAD, S.QUEUED}),
    S.FAILED: frozenset({S.RUNNING, S.QUEUED}),
    S.SUCCEEDED: frozenset(),
    S.DEAD: frozenset({S.QUEUED}),
}
#: States a job waits in; a waiting job whose ``run_at`` has come may be claimed.
WAITING: Final = (S.SCHEDULED, S.QUEUED, S.FAILED)
#: States of an unfinished job: the ones that hold a dedupe key.
UNFINISHED: Final = (S.SCHEDULED, S.QUEUED, S.RUNNING, S.FAILED)


def check_transition(source: JobState, target: JobState, job_id: str | None = None) -> None:
    if target not in TRANSITIONS[source]:
        raise IllegalJobTransition(job_id, source.value, target.value)


def sources_of(target: JobState) -> tuple[JobState, ...]:
    """The states a job may reach ``target`` from, in declaration order."""
    return tuple(state for state in JobState if target in TRANSITIONS[state])


# --- backoff ------------------------------------------------------------------------

BackoffKind = Literal["exponential", "fixed", "linear"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long a failed job waits before its next attempt.

    ``exponential``: ``base * 2**(n-1)``; ``linear``: ``base * n``; ``fixed``: ``base``
    (n = the attempt that failed, from 1), capped at ``max``, then spread by
    ``±jitter`` (a fraction) so that jobs failing together do not retry together.
    With the default jitter of 0.1 an exponential delay still always grows.

    Written here rather than with tenacity: a job's attempts live in the database and
    continue in another process, whereas tenacity's waits drive an in-process loop.
    """

    kind: BackoffKind = "exponential"
    base: float = 1.0
    max: float = 3600.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.kind not in ("exponential", "fixed", "linear"):
            raise InvalidJob(f"backoff must be exponential, fixed or linear, not {self.kind!r}")
        for label, value in (("base", self.base), ("max", self.max)):
            if not _is_number(value) or value < 0:
                raise InvalidJob(f"backoff {label} must be a non-negative number of seconds")
        if not _is_number(self.jitter) or not 0 <= self.jitter < 1:
            raise InvalidJob("backoff jitter must be a fraction in [0, 1)")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after attempt number ``attempt`` (1-based) failed."""
        n = max(1, attempt)
        if self.kind == "exponential":
            raw = self.base * 2.0 ** min(n - 1, 62)
        elif self.kind == "linear":
            raw = self.base * n
        else:
            raw = self.base
        capped = min(raw, self.max)
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, capped * (1.0 + spread))

    def to_json(self) -> str:
        return orjson.dumps(
            {"kind": self.kind, "base": self.base, "max": self.max, "jitter": self.jitter}
        ).decode()

    @classmethod
    def from_json(cls, text: str) -> Backoff:
        return _backoff_from_json(text)

    @classmethod
    def parse(cls, value: Backoff | str) -> Backoff:
        if isinstance(value, Backoff):
            return value
        if isinstance(value, str):
            return cls(value)  # type: ignore[arg-type]  # checked in __post_init__
        raise InvalidJob(f"backoff must be a name or a Backoff, not {type(value).__name__}")


@functools.lru_cache(maxsize=256)
def _backoff_from_json(text: str) -> Backoff:
    # Claims decode this for every row, and a queue has few distinct policies.
    data = orjson.loads(text)
    return Backoff(data["kind"], float(data["base"]), float(data["max"]), float(data["jitter"]))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# --- records ------------------------------------------------------------------------

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_NAME: Final = re.compile(r"^[A-Za-z0-9_.:\-/]{1,200}$")
MAX_KEY_LENGTH: Final = 255
MAX_PRIORITY: Final = 2**31 - 1


def to_micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise InvalidJob("run_at must be timezone-aware (naive datetimes are ambiguous)")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True, slots=True)
class Job:
    """A job as stored. ``attempts`` counts runs started, so a handler sees its own
    attempt number there (1 on the first run)."""

    id: str
    name: str
    payload: dict[str, Any]
    state: JobState
    priority: int
    run_at: datetime
    attempts: int
    max_attempts: int
    backoff: Backoff
    dedupe_key: str | None
    tenant_id: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    #: The W3C ``traceparent`` of the work that enqueued it; its runs continue that trace.
    traceparent: str | None = None

    @property
    def attempts_left(self) -> int:
        return max(0, self.max_attempts - self.attempts)


@dataclass(frozen=True, slots=True)
class NewJob:
    """A validated enqueue request; build it with :func:`new_job`."""

    id: str
    name: str
    payload_json: str
    priority: int
    run_at: int
    max_attempts: int
    backoff: Backoff
    dedupe_key: str | None
    tenant_id: str | None
    created_at: int
    traceparent: str | None = None

    @property
    def state(self) -> JobState:
        return JobState.SCHEDULED if self.run_at > self.created_at else JobState.QUEUED


def new_job(
    name: str,
    payload: Mapping[str, Any] | None,
    *,
    now: int,
    attempts: int = 3,
    backoff: Backoff | str = "exponential",
    delay: timedelta | float | None = None,
    run_at: datetime | None = None,
    priority: int = 0,
    dedupe_key: str | None = None,
    tenant_id: str | None = None,
    job_id: str | uuid.UUID | None = None,
    traceparent: str | None = None,
) -> NewJob:
    """Check every enqueue argument before any I/O; ``now`` is epoch microseconds.

    ``traceparent``: the trace the job continues; by default the current one (the
    request's, the command's, the running job's), if any.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidJob(f"job name must be 1-200 of [A-Za-z0-9_.:-/], not {name!r}")
    payload = {} if payload is None else payload
    try:
        check_json_object(payload, "payload")
    except InvalidEventData as exc:
        raise InvalidJob(exc.message.replace("event payload", "job payload")) from exc
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 1000:
        raise InvalidJob(f"attempts must be an integer from 1 to 1000, not {attempts!r}")
    if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > MAX_PRIORITY:
        raise InvalidJob(f"priority must be a 32-bit integer, not {priority!r}")
    if delay is not None and run_at is not None:
        raise InvalidJob("give delay or run_at, not both")
    when = now
    if delay is not None:
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else delay
        if not _is_number(seconds) or seconds < 0:
            raise InvalidJob(f"delay must be a non-negative duration, not {delay!r}")
        when = now + round(seconds * 1_000_000)
    elif run_at is not None:
        if not isinstance(run_at, datetime):
            raise InvalidJob("run_at must be a datetime")
        when = to_micros(run_at)
    if dedupe_key is not None and (
        not isinstance(dedupe_key, str) or not dedupe_key or len(dedupe_key) > MAX_KEY_LENGTH
    ):
        raise InvalidJob(f"dedupe_key must be a non-empty string of at most {MAX_KEY_LENGTH}")
    if tenant_id is not None and (not isinstance(tenant_id, str) or not tenant_id):
        raise InvalidJob("tenant_id must be a non-empty string")
    return NewJob(
        id=_job_id(job_id),
        name=name,
        payload_json=orjson.dumps(payload, default=_plain_dict).decode(),
        priority=priority,
        run_at=when,
        max_attempts=attempts,
        backoff=Backoff.parse(backoff),
        dedupe_key=dedupe_key,
        tenant_id=tenant_id,
        created_at=now,
        traceparent=_traceparent(traceparent),
    )


def _traceparent(given: str | None) -> str | None:
    if given is None:
        ctx = current_trace()
        return None if ctx is None else ctx.header()
    # A malformed header from an event's metadata starts no trace rather than failing.
    parsed = TraceContext.parse(given)
    return None if parsed is None else parsed.header()


def _plain_dict(value: object) -> object:
    # check_json_object accepts any Mapping; orjson encodes only dicts natively.
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _job_id(value: str | uuid.UUID | None) -> str:
    if value is None:
        return str(uuid.uuid4())
    try:
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(value))
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidJob(f"job id must be a UUID, not {value!r}") from exc
