"""FormEase's read models, kept current by inline projections.

Inline: the rows an event implies commit in the event's own transaction, so the
admin screens are never behind the log (lag 0, shown by ``projection_status``) and
no cron refresh exists to forget. Every table carries ``tenant_id`` first in its key:
every query filters on it.

Percentiles come from a per-day histogram of completion times (1 s buckets up to a
minute, coarser after): a range's median and p90 read a few hundred rows, however
many submissions it holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from apps.formease.domain.sessions import FieldsViewed, SessionSubmitted, SubmissionReceived
from apps.formease.domain.users import FormCreated, UserActive, UserRegistered, UserUpdated
from apps.formease.usage import plan_usage
from headwater.eventstore import RecordedEvent, Statement
from headwater.projections import INTEGER, JSON, TEXT, TIMESTAMP, Column, Merge, Projection, Table

#: Histogram resolution: (bucket width in ms, up to this many ms). Finer where most
#: completions fall; a range's percentiles read a few hundred rows however many
#: submissions it holds. Beyond the last bound, one overflow bucket.
BUCKETS: Final = ((1_000, 60_000), (5_000, 600_000), (60_000, 3_600_000))


def bucket_of(ms: int) -> int:
    first, low = 0, 0
    for width, high in BUCKETS:
        if ms < high:
            return first + (max(ms, 0) - low) // width
        first, low = first + (high - low) // width, high
    return first


def bucket_midpoint(bucket: int) -> float:
    """The middle of a bucket, in ms: what a percentile falling in it reports."""
    first, low = 0, 0
    for width, high in BUCKETS:
        count = (high - low) // width
        if bucket < first + count:
            return low + (bucket - first + 0.5) * width
        first, low = first + count, high
    return float(low)


USERS = Table(
    "fe_users",
    {
        "tenant_id": TEXT,
        "user_id": TEXT,
        "email": TEXT,
        "name": TEXT,
        "plan": TEXT,
        "role": TEXT,
        "created_at": TIMESTAMP,
        "last_active_at": TIMESTAMP,
        "forms": Column(INTEGER, default=0),
        "submissions": Column(INTEGER, default=0),
        "last_submission_at": Column(TIMESTAMP, nullable=True),
    },
    primary_key=("tenant_id", "user_id"),
    # One index per sort the user list declares (apps.formease.queries.USER_SORTS).
    indexes=[
        ("tenant_id", "created_at"),
        ("tenant_id", "plan", "created_at"),
        ("tenant_id", "email", "user_id"),
        ("tenant_id", "name", "user_id"),
        ("tenant_id", "last_active_at", "user_id"),
    ],
    tenant_column="tenant_id",
)
USER_DAYS = Table(
    "fe_user_days",
    {"tenant_id": TEXT, "user_id": TEXT, "day": TEXT, "submissions": Column(INTEGER, default=0)},
    primary_key=("tenant_id", "user_id", "day"),
    tenant_column="tenant_id",
)
FORMS = Table(
    "fe_forms",
    {
        "tenant_id": TEXT,
        "form_id": TEXT,
        "owner_id": TEXT,
        "title": TEXT,
        "created_at": TIMESTAMP,
        "submissions": Column(INTEGER, default=0),
    },
    primary_key=("tenant_id", "form_id"),
    indexes=[("tenant_id", "owner_id")],
    tenant_column="tenant_id",
)
DAILY = Table(
    "fe_daily",
    {
        "tenant_id": TEXT,
        "day": TEXT,
        "forms_created": Column(INTEGER, default=0),
        "submissions": Column(INTEGER, default=0),
    },
    primary_key=("tenant_id", "day"),
    tenant_column="tenant_id",
)
DAILY_CREATORS = Table(
    "fe_daily_creators",
    {"tenant_id": TEXT, "day": TEXT, "user_id": TEXT},
    primary_key=("tenant_id", "day", "user_id"),
    tenant_column="tenant_id",
)
COMPLETION = Table(
    "fe_completion",
    {"tenant_id": TEXT, "day": TEXT, "bucket": INTEGER, "n": Column(INTEGER, default=0)},
    primary_key=("tenant_id", "day", "bucket"),
    tenant_column="tenant_id",
)
SUBMISSIONS = Table(
    "fe_submissions",
    {
        "tenant_id": TEXT,
        "submission_id": TEXT,
        "form_id": TEXT,
        "owner_id": TEXT,
        "version": INTEGER,
        "submitted_at": TIMESTAMP,
        "completion_ms": INTEGER,
        "answers": JSON,
        "log_position": INTEGER,
    },
    primary_key=("tenant_id", "submission_id"),
    # One index per sort the submission list declares (queries.SUBMISSION_SORTS).
    indexes=[
        ("tenant_id", "log_position"),
        ("tenant_id", "form_id", "log_position"),
        ("tenant_id", "submitted_at", "log_position"),
        ("tenant_id", "completion_ms", "log_position"),
    ],
    tenant_column="tenant_id",
)
FIELD_VIEWS = Table(
    "fe_field_views",
    {
        "tenant_id": TEXT,
        "form_id": TEXT,
        "version": INTEGER,
        "field": TEXT,
        "views": Column(INTEGER, default=0),
        "completed": Column(INTEGER, default=0),
    },
    primary_key=("tenant_id", "form_id", "version", "field"),
    tenant_column="tenant_id",
)


def _inline(name: str, table: Table) -> Projection:
    return Projection(name, tables=[table], mode="inline")


# One projection per table, each emitting one statement per event: the inline handler
# runs a projection's statements for a whole batch together, so a batch of a thousand
# submissions becomes one executemany per table (see headwater.projections._coalesce).
users = _inline("fe_users", USERS)
user_days = _inline("fe_user_days", USER_DAYS)
forms = _inline("fe_forms", FORMS)
daily = _inline("fe_daily", DAILY)
daily_creators = _inline("fe_daily_creators", DAILY_CREATORS)
# Version 2: variable-width buckets (rebuilt from the log where version 1 was built).
completion = Projection("fe_completion", tables=[COMPLETION], mode="inline", version=2)
submissions = _inline("fe_submissions", SUBMISSIONS)
field_views = _inline("fe_field_views", FIELD_VIEWS)
PROJECTIONS: Final = (
    users,
    user_days,
    forms,
    daily,
    daily_creators,
    completion,
    submissions,
    field_views,
    plan_usage,
)
#: What each admin screen reads, for its freshness.
USER_STATS_PROJECTIONS: Final = ("fe_users", "fe_user_days")
FORM_METRICS_PROJECTIONS: Final = ("fe_daily", "fe_daily_creators", "fe_completion")


def _tenant(event: RecordedEvent) -> str:
    return event.tenant_id or ""


def _user_id(event: RecordedEvent) -> str:
    return event.stream_id.partition("-")[2]


def _day(event: RecordedEvent) -> str:
    # Events carry their instant in UTC; its first ten characters are the UTC day.
    return str(event.data["at"])[:10]


@users.on(UserRegistered)
def _registered(event: RecordedEvent) -> Statement:
    data = event.data
    return USERS.upsert(
        {
            "tenant_id": _tenant(event),
            "user_id": _user_id(event),
            "email": data["email"],
            "name": data["name"],
            "plan": data["plan"],
            "role": data["role"],
            "created_at": data["at"],
            "last_active_at": data["at"],
        }
    )


@users.on(UserUpdated)
def _updated(event: RecordedEvent) -> Statement | None:
    changes = {k: v for k, v in event.data["changes"].items() if k in USERS.columns}
    if not changes:
        return None
    return USERS.update(changes, where={"tenant_id": _tenant(event), "user_id": _user_id(event)})


@users.on(UserActive)
def _active(event: RecordedEvent) -> Statement:
    key = {"tenant_id": _tenant(event), "user_id": _user_id(event)}
    return USERS.update({"last_active_at": event.data["at"]}, where=key)


@users.on(FormCreated)
def _user_form(event: RecordedEvent) -> Statement:
    key = {"tenant_id": _tenant(event), "user_id": _user_id(event)}
    return USERS.update({"last_active_at": event.data["at"]}, add={"forms": 1}, where=key)


@users.on(SubmissionReceived)
def _user_submission(event: RecordedEvent) -> Statement:
    key = {"tenant_id": _tenant(event), "user_id": event.data["owner_id"]}
    return USERS.update({"last_submission_at": event.data["at"]}, add={"submissions": 1}, where=key)


@user_days.on(SubmissionReceived)
def _user_day(event: RecordedEvent) -> Statement:
    row = {"tenant_id": _tenant(event), "user_id": event.data["owner_id"], "day": _day(event)}
    return USER_DAYS.upsert({**row, "submissions": 1}, merge={"submissions": Merge.ADD})


@forms.on(FormCreated)
def _form_created(event: RecordedEvent) -> Statement:
    return FORMS.upsert(
        {
            "tenant_id": _tenant(event),
            "form_id": event.data["form_id"],
            "owner_id": _user_id(event),
            "title": event.data["title"],
            "created_at": event.data["at"],
        }
    )


@forms.on(SubmissionReceived)
def _form_submission(event: RecordedEvent) -> Statement:
    key = {"tenant_id": _tenant(event), "form_id": event.data["form_id"]}
    return FORMS.increment({"submissions": 1}, where=key)


# Both event types write the same upsert (the other counter adds 0), so a mixed batch
# is still one run.
_DAILY_MERGE: Final = {"forms_created": Merge.ADD, "submissions": Merge.ADD}


@daily.on(FormCreated)
def _daily_form(event: RecordedEvent) -> Statement:
    row = {"tenant_id": _tenant(event), "day": _day(event), "forms_created": 1, "submissions": 0}
    return DAILY.upsert(row, merge=_DAILY_MERGE)


@daily.on(SubmissionReceived)
def _daily_submission(event: RecordedEvent) -> Statement:
    row = {"tenant_id": _tenant(event), "day": _day(event), "forms_created": 0, "submissions": 1}
    return DAILY.upsert(row, merge=_DAILY_MERGE)


@daily_creators.on(FormCreated)
def _creator(event: RecordedEvent) -> Statement:
    return DAILY_CREATORS.upsert(
        {"tenant_id": _tenant(event), "day": _day(event), "user_id": _user_id(event)}
    )


@completion.on(SubmissionReceived)
def _completion(event: RecordedEvent) -> Statement:
    bucket = bucket_of(int(event.data["completion_ms"]))
    row = {"tenant_id": _tenant(event), "day": _day(event), "bucket": bucket, "n": 1}
    return COMPLETION.upsert(row, merge={"n": Merge.ADD})


@submissions.on(SubmissionReceived)
def _submission_row(event: RecordedEvent) -> Statement:
    data = event.data
    return SUBMISSIONS.upsert(
        {
            "tenant_id": _tenant(event),
            "submission_id": data["submission_id"],
            "form_id": data["form_id"],
            "owner_id": data["owner_id"],
            "version": data["version"],
            "submitted_at": data["at"],
            "completion_ms": data["completion_ms"],
            "answers": data["answers"],
            "log_position": event.position,
        }
    )


def _views(event: RecordedEvent, fields: list[str], column: str) -> Iterator[Statement]:
    data = event.data
    for name in fields:
        row: dict[str, Any] = {
            "tenant_id": _tenant(event),
            "form_id": data["form_id"],
            "version": data["version"],
            "field": name,
            "views": 1 if column == "views" else 0,
            "completed": 1 if column == "completed" else 0,
        }
        yield FIELD_VIEWS.upsert(row, merge={"views": Merge.ADD, "completed": Merge.ADD})


@field_views.on(FieldsViewed)
def _fields_viewed(event: RecordedEvent) -> Iterator[Statement]:
    yield from _views(event, event.data["fields"], "views")


@field_views.on(SessionSubmitted)
def _session_submitted(event: RecordedEvent) -> Iterator[Statement]:
    # Views first: the visible fields not reported before count as seen now, so a
    # field's completions can never outnumber its views.
    yield from _views(event, event.data["newly_viewed"], "views")
    yield from _views(event, event.data["visible"], "completed")


# Last: the tombstones' handlers register on the projections above.
from apps.formease import delete_projections  # noqa: E402, F401
