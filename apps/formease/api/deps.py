"""Typed dependencies for FormEase's routes: the service, who acts, and for which tenant.

Roles: the operator's tenant admins decide reviews; staff run the backoffice (users,
forms, lists, exports, metrics); any signed-in principal of the tenant (a respondent
app's API key or user) may open and submit forms.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from apps.formease.service import FormEase
from headwater import Principal, Runtime
from headwater.domain import CommandContext
from headwater.errors import StoreUnavailable
from headwater.http import SignedInUser, Staff, TenantAdmin, get_runtime, runtime_of
from headwater.security import Role


async def get_formease(request: Request) -> FormEase:
    service = runtime_of(request).find(FormEase)
    if service is None:
        raise StoreUnavailable("the FormEase module is not started")
    return service


FormEaseService = Annotated[FormEase, Depends(get_formease)]
AppRuntime = Annotated[Runtime, Depends(get_runtime)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


class Actor:
    """The caller with its tenant resolved (403 for a principal without one)."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.tenant_id = principal.require_tenant()
        self.subject = principal.subject

    def context(self, key: str | None, scope: str) -> CommandContext:
        # Backoffice changes skip their author's own feed: the author made them.
        staff = self.principal.has_role(Role.STAFF)
        return FormEase.context(self.tenant_id, self.subject, key, scope, exclude_author=staff)


async def staff_actor(principal: Staff) -> Actor:
    return Actor(principal)


async def admin_actor(principal: TenantAdmin) -> Actor:
    return Actor(principal)


async def respondent_actor(principal: SignedInUser) -> Actor:
    return Actor(principal)


StaffActor = Annotated[Actor, Depends(staff_actor)]
AdminActor = Annotated[Actor, Depends(admin_actor)]
Respondent = Annotated[Actor, Depends(respondent_actor)]
