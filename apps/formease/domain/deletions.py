"""A deleted submission's tombstone, on a stream of its own.

A submission is recorded on its respondent's session stream, and its id cannot be
turned back into that session's: the tombstone gets its own stream, named by the
submission, so deleting it twice finds the first tombstone and answers 404.
"""

from __future__ import annotations

from headwater.domain import Aggregate, AggregateId, Event, when
from headwater.errors import NotFound


class SubmissionRecordId(AggregateId, prefix="fesubmission"):
    pass


class SubmissionDeleted(Event, type="formease.SubmissionDeleted"):
    """The row leaves the submission list and the exports; the counters drop by one."""

    submission_id: str
    form_id: str
    owner_id: str


class SubmissionRecord(Aggregate[SubmissionRecordId], type_name="formease.SubmissionRecord"):
    deleted: bool = False

    def delete(self, form_id: str, owner_id: str) -> None:
        if self.deleted:
            raise NotFound(f"no submission {self.id.value}")
        self.record(
            SubmissionDeleted(submission_id=self.id.value, form_id=form_id, owner_id=owner_id)
        )

    @when(SubmissionDeleted)
    def _deleted(self, event: SubmissionDeleted) -> None:
        self.deleted = True
