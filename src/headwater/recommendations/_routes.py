"""The recommendation HTTP API: track interactions and preferences, get recommendations.

Thin: validation by pydantic and the service's own checks, tenant from the caller's
principal (never from the body), the service objects passed in by the module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from headwater.http._deps import AUTH_ERRORS, BAD_REQUEST, RequirePrincipal
from headwater.http._responses import Envelope, ok
from headwater.identity._principal import Role
from headwater.recommendations._events import Interaction, Preferences
from headwater.recommendations._recommender import MAX_K, Recommender, context_from
from headwater.recommendations._tracker import InteractionTracker


class InteractionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: str = Field(min_length=1, max_length=200)
    action: str = Field(default="view", min_length=1, max_length=200)
    weight: float | None = Field(default=None, gt=0, le=1000)
    #: Defaults to the caller; staff tracking for someone else names them.
    user_id: str | None = Field(default=None, min_length=1, max_length=200)


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hidden_items: list[str] = Field(default_factory=list, max_length=100)
    liked_categories: list[str] = Field(default_factory=list, max_length=100)


def build_router(
    tracker: Callable[[], InteractionTracker], recommender: Callable[[], Recommender]
) -> APIRouter:
    router = APIRouter(prefix="/api/recommendations", tags=["recommendations"])

    @router.post("/interactions", status_code=202, responses={**AUTH_ERRORS, **BAD_REQUEST})
    async def track(
        body: InteractionIn,
        principal: RequirePrincipal,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> Envelope[dict[str, Any]]:
        user = body.user_id or principal.subject
        if user != principal.subject:
            principal.require_role(Role.STAFF)  # only staff record for someone else
        position = await tracker().track(
            Interaction(user, body.item_id, body.action, body.weight),
            tenant_id=principal.tenant_id,
            key=idempotency_key,
        )
        return ok({"position": position})

    @router.put("/preferences", status_code=204, responses={**AUTH_ERRORS, **BAD_REQUEST})
    async def preferences(body: PreferencesIn, principal: RequirePrincipal) -> None:
        await tracker().update_preferences(
            principal.subject,
            Preferences(tuple(body.hidden_items), tuple(body.liked_categories)),
            tenant_id=principal.tenant_id,
        )

    @router.get("", responses={**AUTH_ERRORS, **BAD_REQUEST})
    async def recommendations(
        principal: RequirePrincipal,
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
        category: Annotated[list[str], Query(max_length=100)] = [],  # noqa: B006
        exclude: Annotated[list[str], Query(max_length=100)] = [],  # noqa: B006
        similar_to: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    ) -> Envelope[dict[str, Any]]:
        answer = await recommender().recommend(
            principal.subject,
            k=k,
            context=context_from(category, exclude, similar_to),
            tenant_id=principal.tenant_id,
        )
        return ok(answer.to_data())

    return router
