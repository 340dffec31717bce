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
from headwater import Module, Runtime
from headwater.eventstore import RecordedEvent
from headwater.http import AUTH_ERRORS, Envelope, ok
from headwater.recommendations import Interaction, RecommendationsModule

#: A prompt longer than this is a paste, not a question worth suggesting to others.
MAX_PROMPT: Final = 160
#: Asking is a stronger signal than a view and weaker than a purchase.
ASK_WEIGHT: Final = 2.0


def normalise(content: str) -> str:
    """The item a prompt is: spacing collapsed, case folded ("What  is X?" = "what is x?")."""
    return " ".join(content.split()).casefold()


def _asked(event: RecordedEvent) -> Interaction | None:
    data = event.data
    if data.get("role") != "user" or not isinstance(data.get("content"), str):
        return None
    prompt = normalise(data["content"])
    if not prompt or len(prompt) > MAX_PROMPT or not prompt.isprintable():
        return None
    return Interaction(str(data["user_id"]), prompt, "ask", ASK_WEIGHT)


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

    def __init__(self) -> None:
        # The recommender's own routes stay off: users reach only the route below.
        self.engine = RecommendationsModule(sources={MESSAGE_POSTED: _asked})

    def routers(self) -> Sequence[APIRouter]:
        router = APIRouter(tags=["assistant: suggestions"], responses=AUTH_ERRORS)
        engine = self.engine

        @router.get(
            "/assistant/suggestions",
            summary="Prompts suggested to the caller (item-item, popular for a new user)",
            response_model=Envelope[Suggestions],
        )
        async def suggested_prompts(
            user: User, k: Annotated[int, Query(ge=1, le=20)] = 5
        ) -> Envelope[Suggestions]:
            answer = await engine.require_recommender().recommend(
                user.user_id, k=k, tenant_id=user.tenant_id
            )
            prompts = [
                SuggestedPrompt(
                    prompt=_display(item.item_id),
                    reason=(
                        f"asked with “{_display(item.because_item_id)}”"
                        if item.because_item_id
                        else "often asked here"
                    ),
                )
                for item in answer.items
            ]
            return ok(Suggestions(model=answer.model, prompts=prompts))

        return (router,)

    async def start(self, runtime: Runtime) -> None:
        await self.engine.start(runtime)

    async def stop(self, runtime: Runtime) -> None:
        await self.engine.stop(runtime)


suggestions = PromptSuggestions()
