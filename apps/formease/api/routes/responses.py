"""The respondent's side: open a form (server-stamped), report views, submit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from apps.formease.api.deps import FormEaseService, Respondent
from apps.formease.api.models import NewSubmission, Views
from headwater.http import AUTH_ERRORS, NOT_FOUND, Envelope, ok

router = APIRouter(prefix="/formease", tags=["formease"], responses=AUTH_ERRORS)


@router.post(
    "/forms/{form_id}/open",
    summary="Open a form as a signed-in respondent: its fields and a session token",
    status_code=201,
    responses=NOT_FOUND,
)
async def open_form(
    form_id: str, actor: Respondent, service: FormEaseService
) -> Envelope[dict[str, Any]]:
    """Pins the latest published version and starts the completion clock; the token
    names this session and is needed to submit."""
    return ok(await service.open_form(actor.tenant_id, actor.subject, form_id))


@router.post(
    "/sessions/views", summary="Report the fields a respondent was shown", responses=NOT_FOUND
)
async def report_views(
    body: Views, actor: Respondent, service: FormEaseService
) -> Envelope[dict[str, bool]]:
    await service.view(actor.tenant_id, body.token, body.fields)
    return ok({"recorded": True})


@router.post(
    "/submissions", summary="Submit a session's answers", status_code=201, responses=NOT_FOUND
)
async def submit(
    body: NewSubmission, actor: Respondent, service: FormEaseService
) -> Envelope[dict[str, Any]]:
    """Validated against the session's pinned version; 403 ``plan_limit_reached`` past
    the owner's monthly quota; 409 ``session_closed`` for a second, different submit."""
    submission = await service.submit(actor.tenant_id, actor.subject, body.token, body.answers)
    return ok(submission.model_dump(mode="json", exclude={"answers"}))
