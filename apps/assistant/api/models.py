"""Request bodies, validated as seed 004's chat schema says, field by field.

``messages``: 1 to 50 items; each ``role`` one of user/assistant/system and
``content`` a string of 1 to 10,000 characters. A body outside these answers 422
with each offending field's location (``["body", "messages", 3, "content"]``).
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_MESSAGES: Final = 50
MAX_CONTENT: Final = 10_000


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system"]
    content: str = Field(min_length=1, max_length=MAX_CONTENT)


class Chat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)


class NewThread(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="New chat", min_length=1, max_length=200)
    #: Optional first messages: the thread is created and its first reply requested.
    messages: list[Message] | None = Field(default=None, min_length=1, max_length=MAX_MESSAGES)


class Rename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
