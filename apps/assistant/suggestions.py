"""Suggested prompts on the chat page: "people who asked this also asked".

Serve with ``--app apps.assistant.suggestions:suggestions`` next to the assistant.
The assistant's own ``MessagePosted`` events feed Headwater's item-item recommender:
a user's message is an interaction of that user with the prompt, normalised (case and
spacing folded) so the same question asked twice is one item. Nothing is recorded
twice. A user is offered prompts they have not asked yet, ranked by what users who
asked the same things asked; a user with no history gets the tenant's most asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Final

from fastapi import APIRouter, Query
from pydantic import BaseModel

from apps.assistant.api.deps import User
from apps.assistant.domain.threads import MESSAGE_POSTED
from apps.assistant.projections import ASKERS
from apps.assistant.prompts import asked_prompt, normalise
from headwater import Module, Runtime
from headwater.eventstore import EventStore, RecordedEvent
from headwater.http import AUTH_ERRORS, AppRuntime, Envelope, ok
from headwater.recommendations import Interaction, RecommendationsModule

#: Asking is a stronger signal than a view and weaker than a purchase.
ASK_WEIGHT: Final = 2.0
#: A prompt is offered to others only once this many different users asked it: a
#: question one person typed may say something about them, and must not be shown to
#: their colleagues as "often asked here" (k-anonymity over the tenant's askers).
MIN_ASKERS: Final = 3


def _asked(event: RecordedEvent) -> Interaction | None:
    prompt = asked_prompt(event.data)
    if prompt is None:
        return None
    return Interaction(str(event.data["user_id"]), prompt, "ask", ASK_WEIGHT)


async def shared_enough(
    store: EventStore, tenant_id: str, prompts: Sequence[str], min_askers: int
) -> set[str]:
    """The prompts among ``prompts`` that at least ``min_askers`` users of the tenant asked."""
    if not prompts:
        return set()
    marks = ", ".join("?" * len(prompts))
    rows = await store.fetchall(
        f"SELECT prompt FROM {ASKERS.ref} WHERE tenant_id = ? AND prompt IN ({marks}) "
        "GROUP BY prompt HAVING COUNT(*) >= ?",
        [tenant_id, *prompts, min_askers],
    )
    return {str(row[0]) for row in rows}


class SuggestedPrompt(BaseModel):
    prompt: str
    reason: str


class Suggestions(BaseModel):
    #: ``item_item`` or ``popularity`` (a user with no history yet).
    model: str
    prompts: list[SuggestedPrompt]


def _display(prompt: str) -> str:
    return prompt[:1].upper() + prompt[1:]


class PromptSuggestions(Module):
    name = "assistant-suggestions"
    version = "0.1.0"

    def __init__(self, min_askers: int = MIN_ASKERS) -> None:
        # The recommender's own routes stay off: users reach only the route below.
        self.engine = RecommendationsModule(sources={MESSAGE_POSTED: _asked})
        self.min_askers = min_askers

    def routers(self) -> Sequence[APIRouter]:
        router = APIRouter(tags=["assistant: suggestions"], responses=AUTH_ERRORS)
        engine, min_askers = self.engine, self.min_askers

        @router.get(
            "/assistant/suggestions",
            summary="Prompts suggested to the caller (item-item, popular for a new user)",
            response_model=Envelope[Suggestions],
        )
        async def suggested_prompts(
            user: User, runtime: AppRuntime, k: Annotated[int, Query(ge=1, le=20)] = 5
        ) -> Envelope[Suggestions]:
            # Asked for more than k: the ones too few users asked are dropped below.
            answer = await engine.require_recommender().recommend(
                user.user_id, k=k * 4, tenant_id=user.tenant_id
            )
            allowed = await shared_enough(
                runtime.store,
                user.tenant_id,
                [item.item_id for item in answer.items],
                min_askers,
            )
            offered = [item for item in answer.items if item.item_id in allowed][:k]
            prompts = [
                SuggestedPrompt(
                    prompt=_display(item.item_id),
                    reason=(
                        f"asked with “{_display(item.because_item_id)}”"
                        if item.because_item_id
                        else "often asked here"
                    ),
                )
                for item in offered
            ]
            return ok(Suggestions(model=answer.model, prompts=prompts))

        return (router,)

    async def start(self, runtime: Runtime) -> None:
        await self.engine.start(runtime)

    async def stop(self, runtime: Runtime) -> None:
        await self.engine.stop(runtime)


suggestions = PromptSuggestions()

__all__ = ["PromptSuggestions", "normalise", "shared_enough", "suggestions"]
