"""FormEase users: register, read, patch (merge, review or 409 on a stale write)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from apps.formease.api.deps import FormEaseService, IdempotencyKey, StaffActor
from apps.formease.api.models import NewForm, NewUser, UserPatch
from apps.formease.commands import UpdateUser
from apps.formease.domain.users import FormUserId
from headwater.http import AUTH_ERRORS, CONFLICT, NOT_FOUND, Envelope, ok

router = APIRouter(prefix="/formease/users", tags=["formease"], responses=AUTH_ERRORS)


@router.post("", summary="Register a customer account (owner of forms)", status_code=201)
async def register_user(
    body: NewUser, actor: StaffActor, service: FormEaseService, key: IdempotencyKey = None
) -> Envelope[dict[str, str]]:
    context = actor.context(key, "register-user")
    user_id = await service.register_user(context, body.email, body.name, body.plan, body.role)
    return ok({"user_id": user_id})


@router.get("/{user_id}", summary="One customer account", responses=NOT_FOUND)
async def get_user(
    user_id: str, actor: StaffActor, service: FormEaseService
) -> Envelope[dict[str, Any]]:
    user = await service.load_user(actor.tenant_id, user_id)
    return ok({**user.state(), "user_id": user.id.value, "version": user.version})


@router.patch(
    "/{user_id}",
    summary="Edit a customer account (merges a stale edit, or 409)",
    responses={**NOT_FOUND, **CONFLICT},
)
async def update_user(
    user_id: str,
    body: UserPatch,
    actor: StaffActor,
    service: FormEaseService,
    key: IdempotencyKey = None,
) -> Envelope[dict[str, Any]]:
    """A stale ``based_on_version`` merges what it can; a conflict on email, role or plan
    answers 202 ``escalated`` with the review id; others 409 with base, mine, theirs."""
    command = UpdateUser(user_id=FormUserId(user_id), **body.model_dump())
    version = await service.update_user(actor.context(key, "update-user"), command)
    return ok({"user_id": user_id, "version": version})


@router.post(
    "/{user_id}/forms",
    summary="Create a form owned by this customer",
    status_code=201,
    responses=NOT_FOUND,
)
async def create_form(
    user_id: str,
    body: NewForm,
    actor: StaffActor,
    service: FormEaseService,
    key: IdempotencyKey = None,
) -> Envelope[dict[str, str]]:
    """403 ``plan_limit_reached`` once the owner's plan has no form left."""
    await service.load_user(actor.tenant_id, user_id)
    form_id = await service.create_form(actor.context(key, "create-form"), user_id, body.title)
    return ok({"form_id": form_id})
