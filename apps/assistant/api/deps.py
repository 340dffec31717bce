"""Typed dependencies for the assistant's routes: the service and the calling user.

Any signed-in principal of a tenant may chat; what it sees is its own threads only
(another user's thread or reply answers 404, as if it did not exist).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from apps.assistant.service import Assistant
from headwater.errors import StoreUnavailable
from headwater.http import SignedInUser, runtime_of


async def get_assistant(request: Request) -> Assistant:
    service = runtime_of(request).find(Assistant)
    if service is None:
        raise StoreUnavailable("the assistant module is not started")
    return service


class Caller:
    """The signed-in user with its tenant resolved (403 for a principal without one)."""

    def __init__(self, tenant_id: str, user_id: str) -> None:
        self.tenant_id = tenant_id
        self.user_id = user_id


async def get_caller(principal: SignedInUser) -> Caller:
    return Caller(principal.require_tenant(), principal.subject)


AssistantService = Annotated[Assistant, Depends(get_assistant)]
User = Annotated[Caller, Depends(get_caller)]
