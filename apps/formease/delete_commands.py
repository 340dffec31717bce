"""FormEase's delete commands and their handlers: each records one tombstone event."""

from __future__ import annotations

from apps.formease.domain.deletions import SubmissionRecord, SubmissionRecordId
from apps.formease.domain.forms import Form, FormId
from apps.formease.domain.users import FormUser, FormUserId
from headwater.domain import Command, CommandBus


class DeleteUser(Command[None], name="formease.DeleteUser"):
    user_id: FormUserId


class DeleteForm(Command[None], name="formease.DeleteForm"):
    form_id: FormId


class DeleteSubmission(Command[None], name="formease.DeleteSubmission"):
    submission_id: SubmissionRecordId
    form_id: str
    owner_id: str


def _delete_user(command: DeleteUser, user: FormUser) -> None:
    user.delete()


def _delete_form(command: DeleteForm, form: Form) -> None:
    form.delete()


def _delete_submission(command: DeleteSubmission, record: SubmissionRecord) -> None:
    record.delete(command.form_id, command.owner_id)


def register_deletes(bus: CommandBus) -> None:
    bus.register(DeleteUser, FormUser, _delete_user)
    bus.register(DeleteForm, Form, _delete_form)
    bus.register(DeleteSubmission, SubmissionRecord, _delete_submission)
