"""What FormEase's tombstones do to the read models: the rows go, the counters drop.

Registered on the projections of :mod:`apps.formease.projections` (which imports this
module last), so live appends and rebuilds from the log drop the same rows.
Per-day totals (``fe_daily``, ``fe_completion``) hold no one's data and stay as counted.
"""

from __future__ import annotations

from collections.abc import Iterator

from apps.formease.domain.deletions import SubmissionDeleted
from apps.formease.domain.forms import FormDeleted
from apps.formease.domain.users import UserDeleted
from apps.formease.projections import (
    DAILY_CREATORS,
    FIELD_VIEWS,
    FORMS,
    SUBMISSIONS,
    USER_DAYS,
    USERS,
    daily_creators,
    field_views,
    forms,
    submissions,
    user_days,
    users,
)
from headwater.eventstore import RecordedEvent, Statement


def _tenant(event: RecordedEvent) -> str:
    return event.tenant_id or ""


@users.on(UserDeleted)
def _user_row(event: RecordedEvent) -> Statement:
    return USERS.delete(where={"tenant_id": _tenant(event), "user_id": event.data["user_id"]})


@user_days.on(UserDeleted)
def _user_days(event: RecordedEvent) -> Statement:
    return USER_DAYS.delete(where={"tenant_id": _tenant(event), "user_id": event.data["user_id"]})


@daily_creators.on(UserDeleted)
def _creator_days(event: RecordedEvent) -> Statement:
    where = {"tenant_id": _tenant(event), "user_id": event.data["user_id"]}
    return DAILY_CREATORS.delete(where=where)


@forms.on(UserDeleted)
def _user_forms(event: RecordedEvent) -> Statement:
    return FORMS.delete(where={"tenant_id": _tenant(event), "owner_id": event.data["user_id"]})


@submissions.on(UserDeleted)
def _user_submissions(event: RecordedEvent) -> Statement:
    where = {"tenant_id": _tenant(event), "owner_id": event.data["user_id"]}
    return SUBMISSIONS.delete(where=where)


@users.on(FormDeleted)
def _owner_forms(event: RecordedEvent) -> Statement:
    key = {"tenant_id": _tenant(event), "user_id": event.data["owner_id"]}
    return USERS.update(where=key, add={"forms": -1})


@forms.on(FormDeleted)
def _form_row(event: RecordedEvent) -> Statement:
    return FORMS.delete(where={"tenant_id": _tenant(event), "form_id": event.data["form_id"]})


@submissions.on(FormDeleted)
def _form_submissions(event: RecordedEvent) -> Statement:
    where = {"tenant_id": _tenant(event), "form_id": event.data["form_id"]}
    return SUBMISSIONS.delete(where=where)


@field_views.on(FormDeleted)
def _form_views(event: RecordedEvent) -> Statement:
    where = {"tenant_id": _tenant(event), "form_id": event.data["form_id"]}
    return FIELD_VIEWS.delete(where=where)


@users.on(SubmissionDeleted)
def _owner_submissions(event: RecordedEvent) -> Statement:
    key = {"tenant_id": _tenant(event), "user_id": event.data["owner_id"]}
    return USERS.update(where=key, add={"submissions": -1})


@forms.on(SubmissionDeleted)
def _form_count(event: RecordedEvent) -> Statement:
    key = {"tenant_id": _tenant(event), "form_id": event.data["form_id"]}
    return FORMS.increment({"submissions": -1}, where=key)


@submissions.on(SubmissionDeleted)
def _submission_row(event: RecordedEvent) -> Iterator[Statement]:
    key = {"tenant_id": _tenant(event), "submission_id": event.data["submission_id"]}
    yield SUBMISSIONS.delete(where=key)
