"""Open sessions and monthly usage: where completion time and plan limits come from.

Opening a form starts a session stream, pinned to the latest published version and
stamped with the server's clock; the respondent holds a signed token naming it.
Views are recorded on the session, so a field seen twice counts once, and a
submission counts as views exactly the visible fields not reported before: the
views of a field can never fall below its completions, and drop-off never goes
negative, whatever branch was taken.

A submission is recorded on its session's stream, with the session's close, in one
append: respondents never contend with each other. The owner's monthly limit travels
in the event and is enforced, in the same transaction, by the usage read model
(``apps.formease.usage``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from headwater.domain import Aggregate, AggregateId, Event, when
from headwater.errors import HeadwaterError, InvalidInput, NotFound


class SessionClosed(HeadwaterError):
    code = "session_closed"
    http_status = 409


class SessionId(AggregateId, prefix="feopen"):
    pass


class UsageId(AggregateId, prefix="feusage"):
    """Streams of one owner's month: where submissions were once recorded (the demo
    still seeds its history there). New submissions go to their session's stream."""

    @classmethod
    def of(cls, owner_id: str, at: datetime) -> UsageId:
        return cls(f"{owner_id}.{at:%Y%m}")


class SessionOpened(Event, type="formease.SessionOpened"):
    form_id: str
    owner_id: str
    version: int
    at: datetime


class FieldsViewed(Event, type="formease.FieldsViewed"):
    form_id: str
    version: int
    fields: list[str]


class SessionSubmitted(Event, type="formease.SessionSubmitted"):
    form_id: str
    version: int
    submission_id: str
    visible: list[str]
    newly_viewed: list[str]


class SubmissionReceived(Event, type="formease.SubmissionReceived"):
    submission_id: str
    form_id: str
    owner_id: str
    version: int
    session_id: str
    answers: dict[str, Any]
    completion_ms: int
    at: datetime
    #: The owner's monthly limit when it was received (None: unlimited); the usage
    #: read model refuses the append that would pass it.
    limit: int | None = None
    #: The form (id, title, version) and its owner (id, email, name, plan): what the
    #: admin feed's ``submission.received`` shows. Empty in events recorded before.
    form: dict[str, Any] = {}


class OpenSession(Aggregate[SessionId], type_name="formease.Session"):
    form_id: str = ""
    owner_id: str = ""
    form_version: int = 0
    opened_at: datetime | None = None
    viewed: list[str] = []
    submission_id: str | None = None

    def open(self, form_id: str, owner_id: str, version: int, at: datetime) -> None:
        if not self.exists:
            self.record(SessionOpened(form_id=form_id, owner_id=owner_id, version=version, at=at))

    def require_open(self) -> None:
        if not self.exists:
            raise NotFound("no such open session")
        if self.submission_id is not None:
            raise SessionClosed("this session was submitted already")

    def view(self, fields: list[str], known: set[str]) -> None:
        self.require_open()
        unknown = [f for f in fields if f not in known]
        if unknown:
            raise InvalidInput("unknown fields for this version", fields=unknown)
        new = [f for f in dict.fromkeys(fields) if f not in self.viewed]
        if new:
            self.record(FieldsViewed(form_id=self.form_id, version=self.form_version, fields=new))

    def submit(self, submission: SubmissionReceived, visible: list[str]) -> None:
        """Record the submission and close the session: one decision, one append."""
        self.require_open()
        newly = [f for f in visible if f not in self.viewed]
        self.record(submission)
        self.record(
            SessionSubmitted(
                form_id=self.form_id,
                version=self.form_version,
                submission_id=submission.submission_id,
                visible=visible,
                newly_viewed=newly,
            )
        )

    def close(self, submission_id: str, visible: list[str]) -> None:
        """Close a session whose submission was recorded on a usage stream (before
        submissions moved to the session's own stream)."""
        if self.submission_id == submission_id:
            return  # the retry of a submission whose session step did not finish
        self.require_open()
        newly = [f for f in visible if f not in self.viewed]
        self.record(
            SessionSubmitted(
                form_id=self.form_id,
                version=self.form_version,
                submission_id=submission_id,
                visible=visible,
                newly_viewed=newly,
            )
        )

    @when(SessionOpened)
    def _opened(self, event: SessionOpened) -> None:
        self.form_id, self.owner_id = event.form_id, event.owner_id
        self.form_version, self.opened_at = event.version, event.at

    @when(FieldsViewed)
    def _viewed(self, event: FieldsViewed) -> None:
        self.viewed = [*self.viewed, *event.fields]

    @when(SessionSubmitted)
    def _submitted(self, event: SessionSubmitted) -> None:
        self.submission_id = event.submission_id
        self.viewed = [*self.viewed, *event.newly_viewed]

    @when(SubmissionReceived)
    def _received(self, event: SubmissionReceived) -> None:
        pass  # the SessionSubmitted beside it closes the session
