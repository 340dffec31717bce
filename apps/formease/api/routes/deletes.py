"""Deletes: users (with their forms and submissions), forms, submissions.

Staff and tenant admins only. Each records a tombstone through the bus; afterwards
the thing answers 404, and a second delete is a 404 that records nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from apps.formease import deletes
from apps.formease.api.deps import FormEaseService, StaffActor
from apps.formease.projections import SUBMISSIONS
from headwater.errors import NotFound
from headwater.http import AUTH_ERRORS, NOT_FOUND, Envelope, ok

router = APIRouter(prefix="/formease", tags=["formease: deletes"], responses=AUTH_ERRORS)

#: Ids are at most this long: a longer one is a 422, never a lookup.
Id = Annotated[str, Path(min_length=1, max_length=200)]


@router.delete(
    "/users/{user_id}",
    summary="Delete a customer, their forms and their submissions",
    responses=NOT_FOUND,
)
async def delete_user(
    user_id: Id, actor: StaffActor, service: FormEaseService
) -> Envelope[dict[str, Any]]:
    """Answers the ids of the forms deleted with the user; the admin feed shows
    ``user.deleted`` and one ``form.deleted`` per form."""
    context = actor.context(None, "delete-user")
    forms = await deletes.delete_user(service, context, user_id)
    return ok({"user_id": user_id, "deleted_forms": forms})


@router.delete(
    "/forms/{form_id}",
    summary="Delete a form and its submissions",
    status_code=204,
    responses=NOT_FOUND,
)
async def delete_form(form_id: Id, actor: StaffActor, service: FormEaseService) -> Response:
    await deletes.delete_form(service, actor.context(None, "delete-form"), form_id)
    return Response(status_code=204)


@router.get("/submissions/{submission_id}", summary="One submission", responses=NOT_FOUND)
async def get_submission(
    submission_id: Id, actor: StaffActor, service: FormEaseService
) -> Envelope[dict[str, Any]]:
    columns = ("submission_id", "form_id", "owner_id", "version", "submitted_at", "answers")
    row = await service.store.fetchone(
        f"SELECT {', '.join(columns)} FROM {SUBMISSIONS.ref} "
        "WHERE tenant_id = ? AND submission_id = ?",
        [actor.tenant_id, submission_id],
    )
    if row is None:
        raise NotFound(f"no submission {submission_id}")
    found = {c: SUBMISSIONS.decode(c, v) for c, v in zip(columns, row, strict=True)}
    return ok({**found, "submitted_at": found["submitted_at"].isoformat()})


@router.delete(
    "/submissions/{submission_id}",
    summary="Delete a submission",
    status_code=204,
    responses=NOT_FOUND,
)
async def delete_submission(
    submission_id: Id, actor: StaffActor, service: FormEaseService
) -> Response:
    context = actor.context(None, "delete-submission")
    await deletes.delete_submission(service, context, submission_id)
    return Response(status_code=204)
