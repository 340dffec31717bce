"""Threads: one stream per thread, ``assistantthread-{thread_id}``, in its tenant.

A thread belongs to the user who created it. Its stream holds what was said to the
assistant (messages posted) and the request for each reply; the replies themselves
are streams of their own (see ``replies``), written by a job, so a reply being
generated never contends with the user posting the next message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from headwater.errors import NotFound
from headwater.eventstore import RecordedEvent

CATEGORY: Final = "assistantthread"

THREAD_CREATED: Final = "assistant.ThreadCreated"
MESSAGE_POSTED: Final = "assistant.MessagePosted"
REPLY_REQUESTED: Final = "assistant.ReplyRequested"
THREAD_RENAMED: Final = "assistant.ThreadRenamed"
THREAD_DELETED: Final = "assistant.ThreadDeleted"


def thread_stream(thread_id: str) -> str:
    return f"{CATEGORY}-{thread_id}"


def new_id() -> str:
    return uuid.uuid4().hex


def now() -> str:
    return datetime.now(UTC).isoformat()


class ThreadNotFound(NotFound):
    code = "thread_not_found"


class ThreadDeleted(NotFound):
    code = "thread_deleted"


@dataclass
class Thread:
    """A thread folded from its stream."""

    thread_id: str
    user_id: str = ""
    title: str = ""
    created_at: str = ""
    deleted: bool = False
    version: int = 0
    #: (role, content) in order; assistant replies are added by their reply id.
    messages: list[dict[str, Any]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)

    def apply(self, event: RecordedEvent) -> None:
        data = event.data
        self.version = event.version
        if event.type == THREAD_CREATED:
            self.user_id, self.title, self.created_at = data["user_id"], data["title"], data["at"]
        elif event.type == MESSAGE_POSTED:
            self.messages.append(
                {"message_id": data["message_id"], "role": data["role"], "content": data["content"]}
            )
        elif event.type == REPLY_REQUESTED:
            self.replies.append(data["reply_id"])
            self.messages.append({"reply_id": data["reply_id"], "role": "assistant"})
        elif event.type == THREAD_RENAMED:
            self.title = data["title"]
        elif event.type == THREAD_DELETED:
            self.deleted = True

    def require_owner(self, user_id: str) -> None:
        """Another user's thread reads as missing: its existence is not theirs to learn."""
        if self.version == 0 or self.user_id != user_id:
            raise ThreadNotFound(f"no thread {self.thread_id}")
        if self.deleted:
            raise ThreadDeleted(f"thread {self.thread_id} was deleted")
