"""The assistant's read models, kept by inline projections (in each append's transaction).

- ``as_threads``: a user's threads, newest first (the thread list).
- ``as_messages``: every message and finished reply by user, in log order (the
  seed's chat history, read newest first 50 at a time).
- ``as_replies``: who owns each reply and where it stands (the SSE route's check).
- ``as_usage``: tokens spent per user and per tenant per UTC month. Inline, so the
  count moves in the same transaction as the one ``ReplyCompleted`` that reports
  the tokens: charged equals used exactly, whatever crashes or retries happen.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from apps.assistant.domain.replies import (
    REPLY_CANCELLED,
    REPLY_COMPLETED,
    REPLY_FAILED,
    REPLY_STARTED,
)
from apps.assistant.domain.threads import (
    MESSAGE_POSTED,
    REPLY_REQUESTED,
    THREAD_CREATED,
    THREAD_DELETED,
    THREAD_RENAMED,
)
from apps.assistant.prompts import asked_prompt
from headwater.eventstore import RecordedEvent, Statement
from headwater.projections import BOOLEAN, INTEGER, TEXT, Column, Merge, Projection, Table

THREADS = Table(
    "as_threads",
    {
        "tenant_id": TEXT,
        "thread_id": TEXT,
        "user_id": TEXT,
        "title": TEXT,
        "created_at": TEXT,
        "updated_at": TEXT,
        "messages": Column(INTEGER, default=0),
        "deleted": Column(BOOLEAN, default=False),
        "log_position": INTEGER,
    },
    primary_key=("tenant_id", "thread_id"),
    # One index per sortable column of the thread list (service.THREAD_SORTS).
    indexes=[
        ("tenant_id", "user_id", "log_position"),
        ("tenant_id", "user_id", "created_at", "thread_id"),
        ("tenant_id", "user_id", "title", "thread_id"),
    ],
    tenant_column="tenant_id",
)
MESSAGES = Table(
    "as_messages",
    {
        "tenant_id": TEXT,
        "message_id": TEXT,
        "thread_id": TEXT,
        "user_id": TEXT,
        "role": TEXT,
        "content": TEXT,
        "at": TEXT,
        "log_position": INTEGER,
    },
    primary_key=("tenant_id", "message_id"),
    indexes=[("tenant_id", "user_id", "log_position")],
    tenant_column="tenant_id",
)
REPLIES = Table(
    "as_replies",
    {
        "tenant_id": TEXT,
        "reply_id": TEXT,
        "thread_id": TEXT,
        "user_id": TEXT,
        "status": TEXT,
        "requested_at": TEXT,
    },
    primary_key=("tenant_id", "reply_id"),
    indexes=[("tenant_id", "thread_id")],
    tenant_column="tenant_id",
)
USAGE = Table(
    "as_usage",
    {
        "tenant_id": TEXT,
        #: ``user:{id}`` or ``tenant``.
        "scope": TEXT,
        #: ``YYYY-MM``, UTC.
        "month": TEXT,
        "tokens": Column(INTEGER, default=0),
        "replies": Column(INTEGER, default=0),
    },
    primary_key=("tenant_id", "scope", "month"),
    tenant_column="tenant_id",
)

#: Who asked which prompt (normalised, apps.assistant.prompts): a prompt is suggested to
#: others only once enough different users asked it (apps.assistant.suggestions).
ASKERS = Table(
    "as_prompt_askers",
    {"tenant_id": TEXT, "prompt": TEXT, "user_id": TEXT},
    primary_key=("tenant_id", "prompt", "user_id"),
    tenant_column="tenant_id",
)

threads = Projection("as_threads", tables=[THREADS], mode="inline")
messages = Projection("as_messages", tables=[MESSAGES], mode="inline")
replies = Projection("as_replies", tables=[REPLIES], mode="inline")
usage = Projection("as_usage", tables=[USAGE], mode="inline")
askers = Projection("as_prompt_askers", tables=[ASKERS], mode="inline")
PROJECTIONS: Final = (threads, messages, replies, usage, askers)


def _tenant(event: RecordedEvent) -> str:
    return event.tenant_id or ""


def _thread_id(event: RecordedEvent) -> str:
    return event.stream_id.partition("-")[2]


@threads.on(THREAD_CREATED)
def _created(event: RecordedEvent) -> Statement:
    data = event.data
    return THREADS.upsert(
        {
            "tenant_id": _tenant(event),
            "thread_id": _thread_id(event),
            "user_id": data["user_id"],
            "title": data["title"],
            "created_at": data["at"],
            "updated_at": data["at"],
            "log_position": event.position,
        }
    )


@threads.on(MESSAGE_POSTED)
def _touched(event: RecordedEvent) -> Statement:
    key = {"tenant_id": _tenant(event), "thread_id": _thread_id(event)}
    return THREADS.update({"updated_at": event.data["at"]}, add={"messages": 1}, where=key)


@threads.on(THREAD_RENAMED)
def _renamed(event: RecordedEvent) -> Statement:
    key = {"tenant_id": _tenant(event), "thread_id": _thread_id(event)}
    return THREADS.update({"title": event.data["title"], "updated_at": event.data["at"]}, where=key)


@threads.on(THREAD_DELETED)
def _deleted(event: RecordedEvent) -> Statement:
    key = {"tenant_id": _tenant(event), "thread_id": _thread_id(event)}
    return THREADS.update({"deleted": True, "updated_at": event.data["at"]}, where=key)


@messages.on(MESSAGE_POSTED)
def _message(event: RecordedEvent) -> Statement:
    data = event.data
    return MESSAGES.upsert(
        {
            "tenant_id": _tenant(event),
            "message_id": data["message_id"],
            "thread_id": _thread_id(event),
            "user_id": data["user_id"],
            "role": data["role"],
            "content": data["content"],
            "at": data["at"],
            "log_position": event.position,
        }
    )


@messages.on(REPLY_COMPLETED)
def _answer(event: RecordedEvent) -> Statement:
    data = event.data
    return MESSAGES.upsert(
        {
            "tenant_id": _tenant(event),
            "message_id": data["reply_id"],
            "thread_id": data["thread_id"],
            "user_id": data["user_id"],
            "role": "assistant",
            "content": data["text"],
            "at": data["at"],
            "log_position": event.position,
        }
    )


@messages.on(THREAD_DELETED)
def _forget(event: RecordedEvent) -> Statement:
    return MESSAGES.delete(where={"tenant_id": _tenant(event), "thread_id": _thread_id(event)})


@replies.on(REPLY_REQUESTED)
def _requested(event: RecordedEvent) -> Statement:
    data = event.data
    return REPLIES.upsert(
        {
            "tenant_id": _tenant(event),
            "reply_id": data["reply_id"],
            "thread_id": _thread_id(event),
            "user_id": data["user_id"],
            "status": "requested",
            "requested_at": data["at"],
        }
    )


def _status(event: RecordedEvent, status: str) -> Statement:
    key = {"tenant_id": _tenant(event), "reply_id": event.stream_id.partition("-")[2]}
    return REPLIES.update({"status": status}, where=key)


@replies.on(REPLY_STARTED)
def _started(event: RecordedEvent) -> Statement:
    return _status(event, "streaming")


@replies.on(REPLY_COMPLETED)
def _completed(event: RecordedEvent) -> Statement:
    return _status(event, "completed")


@replies.on(REPLY_FAILED)
def _failed(event: RecordedEvent) -> Statement:
    return _status(event, "failed")


@replies.on(REPLY_CANCELLED)
def _cancelled(event: RecordedEvent) -> Statement:
    return _status(event, "cancelled")


@usage.on(REPLY_COMPLETED)
def _charge(event: RecordedEvent) -> Iterator[Statement]:
    data = event.data
    tokens = int(data["usage"]["total_tokens"])
    month = str(data["at"])[:7]
    for scope in (f"user:{data['user_id']}", "tenant"):
        row = {"tenant_id": _tenant(event), "scope": scope, "month": month}
        yield USAGE.upsert(
            {**row, "tokens": tokens, "replies": 1},
            merge={"tokens": Merge.ADD, "replies": Merge.ADD},
        )


@askers.on(MESSAGE_POSTED)
def _asker(event: RecordedEvent) -> Statement | None:
    prompt = asked_prompt(event.data)
    if prompt is None:
        return None
    return ASKERS.upsert(
        {"tenant_id": _tenant(event), "prompt": prompt, "user_id": event.data["user_id"]}
    )
