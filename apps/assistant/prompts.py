"""What a user's question is as a suggestable prompt: one rule, shared by the read
model that counts who asked it and the suggestions that offer it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

#: A prompt longer than this is a paste, not a question worth suggesting to others.
MAX_PROMPT: Final = 160


def normalise(content: str) -> str:
    """The item a prompt is: spacing collapsed, case folded ("What  is X?" = "what is x?")."""
    return " ".join(content.split()).casefold()


def asked_prompt(data: Mapping[str, Any]) -> str | None:
    """The prompt a posted message asks, or None (not a user's, or not suggestable)."""
    if data.get("role") != "user" or not isinstance(data.get("content"), str):
        return None
    prompt = normalise(data["content"])
    if not prompt or len(prompt) > MAX_PROMPT or not prompt.isprintable():
        return None
    return prompt
