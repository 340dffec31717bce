"""Replies: one stream per reply, ``assistantreply-{reply_id}``, written by one job.

A reply's events are addressed by ``(reply_id, seq)`` where ``seq`` is the event's
version in the reply stream: 1 is ``ReplyStarted`` (or a ``ReplyCancelled`` that beat
it), then chunks, then exactly one terminal event. Every append names the version it
expects, so two writers (a worker and the one that replaced it after its lease
lapsed, or a worker and a cancel) can never both write the same seq: the loser gets
``ConcurrencyError``, reads again, and goes on from what the log holds. That is why a
client resuming from seq ``n`` can never see a duplicate or a gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from headwater.eventstore import RecordedEvent

CATEGORY: Final = "assistantreply"

REPLY_STARTED: Final = "assistant.ReplyStarted"
REPLY_CHUNK: Final = "assistant.ReplyChunk"
REPLY_COMPLETED: Final = "assistant.ReplyCompleted"
REPLY_FAILED: Final = "assistant.ReplyFailed"
REPLY_CANCELLED: Final = "assistant.ReplyCancelled"
TERMINAL: Final = frozenset({REPLY_COMPLETED, REPLY_FAILED, REPLY_CANCELLED})

#: Event type -> the name clients see (SSE ``event:`` and the transcript's ``status``).
KINDS: Final = {
    REPLY_STARTED: "started",
    REPLY_CHUNK: "chunk",
    REPLY_COMPLETED: "completed",
    REPLY_FAILED: "failed",
    REPLY_CANCELLED: "cancelled",
}


def reply_stream(reply_id: str) -> str:
    return f"{CATEGORY}-{reply_id}"


@dataclass
class Reply:
    """A reply folded from its stream: the text so far and whether it has ended."""

    reply_id: str
    version: int = 0
    status: str = "requested"
    parts: list[str] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")

    def apply(self, event: RecordedEvent) -> None:
        self.version = event.version
        kind = KINDS.get(event.type)
        if kind is None:
            return
        if kind == "chunk":
            self.parts.append(event.data["text"])
        elif kind == "started":
            self.status = "streaming"
        else:
            self.status = kind
            self.citations = list(event.data.get("citations", []))
            self.usage = dict(event.data.get("usage", {}))
            self.error = event.data.get("error")


def client_view(event: RecordedEvent) -> dict[str, Any]:
    """What a client is sent for one reply event: its seq, kind and payload."""
    data = dict(event.data)
    data.pop("user_id", None)
    return {"seq": event.version, "kind": KINDS.get(event.type, event.type), **data}
