"""Deleting in FormEase: users (with their forms and submissions), forms, submissions.

Each delete is a command recording a tombstone event, so the audit trail names who
deleted what (the actor rides in the event's metadata) and a rebuild of the read
models from the log drops the same rows the live projections dropped. Afterwards the
thing answers 404 everywhere, and deleting it again is a 404 that records nothing.
"""

from __future__ import annotations

import uuid

from apps.formease.delete_commands import DeleteForm, DeleteSubmission, DeleteUser
from apps.formease.domain.deletions import SubmissionRecordId
from apps.formease.domain.forms import FormId
from apps.formease.domain.users import FormCreated, FormUser, FormUserId
from apps.formease.projections import SUBMISSIONS
from apps.formease.service import FormEase
from headwater.domain import CommandContext
from headwater.errors import NotFound


def _derived(context: CommandContext, step: str) -> CommandContext:
    return CommandContext(
        command_id=uuid.uuid5(context.command_id, step),
        correlation_id=context.correlation,
        actor=context.actor,
        tenant_id=context.tenant_id,
        metadata=context.metadata,
    )


async def delete_user(service: FormEase, context: CommandContext, user_id: str) -> list[str]:
    """Delete the user, then each form they own; answers the deleted forms' ids.

    The user goes first: forms are created on the owner's stream, so once its
    tombstone is written no new form can appear, and the stream's ``FormCreated``
    events name every form there is to delete (the read model may lag nothing, but
    the log is the record).
    """
    tenant_id = str(context.tenant_id)
    user = await service.repository.load(FormUser, FormUserId(user_id), tenant_id=tenant_id)
    if not user.exists:
        raise NotFound(f"no FormEase user {user_id}")  # a stranger's user reads the same
    if not user.deleted:
        await service.send(DeleteUser(user_id=FormUserId(user_id)), context)
    form_ids: list[str] = []
    stream = FormUserId(user_id).stream_id
    async for event in service.store.read_stream(stream, tenant_id=tenant_id):
        if event.type == FormCreated.event_type:
            form_ids.append(str(event.data["form_id"]))
    deleted = []
    for form_id in form_ids:
        try:
            await service.send(
                DeleteForm(form_id=FormId(form_id)), _derived(context, f"form:{form_id}")
            )
        except NotFound:
            continue  # deleted on its own before, or never started
        deleted.append(form_id)
    if user.deleted:
        # A repeat: it finished what an interrupted first delete left, and still says 404.
        raise NotFound(f"no FormEase user {user_id}")
    return deleted


async def delete_form(service: FormEase, context: CommandContext, form_id: str) -> None:
    await service.load_form(str(context.tenant_id), form_id)  # 404 for a stranger
    await service.send(DeleteForm(form_id=FormId(form_id)), context)


async def delete_submission(service: FormEase, context: CommandContext, submission_id: str) -> None:
    """The read model answers whether the tenant holds it (404 either way, never which)."""
    row = await service.store.fetchone(
        f"SELECT form_id, owner_id FROM {SUBMISSIONS.ref} "
        "WHERE tenant_id = ? AND submission_id = ?",
        [str(context.tenant_id), submission_id],
    )
    if row is None:
        raise NotFound(f"no submission {submission_id}")
    command = DeleteSubmission(
        submission_id=SubmissionRecordId(submission_id), form_id=row[0], owner_id=row[1]
    )
    await service.send(command, context)
