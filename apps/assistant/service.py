"""The assistant's write and read side: threads, messages, reply requests, cancels.

Every write appends to a thread stream with the version it read, in one append: the
messages and the ``ReplyRequested`` that enqueues the reply job (in the same
transaction, see ``module``) commit together or not at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from apps.assistant.budgets import Budgets
from apps.assistant.domain.replies import REPLY_CANCELLED, Reply
from apps.assistant.domain.threads import (
    MESSAGE_POSTED,
    REPLY_REQUESTED,
    THREAD_CREATED,
    THREAD_DELETED,
    THREAD_RENAMED,
    Thread,
    ThreadNotFound,
    new_id,
    now,
    thread_stream,
)
from apps.assistant.generator import ReplyEnded, ReplyWriter, load_reply, load_thread
from apps.assistant.projections import MESSAGES, REPLIES, THREADS
from headwater.errors import ConcurrencyError, NotFound
from headwater.eventstore import NO_STREAM, EventStore, NewEvent
from headwater.http import ListQuery, Sorts, Total, count_rows

THREAD_COLUMNS = ("thread_id", "title", "created_at", "updated_at", "messages", "log_position")
MESSAGE_COLUMNS = ("message_id", "thread_id", "role", "content", "at", "log_position")
#: The thread list's sorts: last active first by default (a thread's row moves to the
#: log position of its latest event), each indexed after (tenant_id, user_id).
THREAD_SORTS = Sorts(
    {"updated": "log_position", "created_at": "created_at", "title": "title"},
    default="updated",
    tiebreak="thread_id",
    order="desc",
)
#: History reads in log order only: newest first by default, or oldest first.
HISTORY_SORTS = Sorts(
    {"position": "log_position"}, default="position", tiebreak="log_position", order="desc"
)


class ReplyNotFound(NotFound):
    code = "reply_not_found"


class Assistant:
    def __init__(self, store: EventStore, budgets: Budgets) -> None:
        self.store = store
        self.budgets = budgets

    # --- threads ----------------------------------------------------------------------

    async def create_thread(self, tenant_id: str, user_id: str, title: str) -> str:
        thread_id = new_id()
        event = NewEvent(THREAD_CREATED, {"user_id": user_id, "title": title, "at": now()})
        await self.store.append(
            thread_stream(thread_id), event, expected_version=NO_STREAM, tenant_id=tenant_id
        )
        return thread_id

    async def thread(self, tenant_id: str, user_id: str, thread_id: str) -> Thread:
        thread = await load_thread(self.store, thread_id, tenant_id)
        thread.require_owner(user_id)
        return thread

    async def _append(self, tenant_id: str, thread: Thread, events: Sequence[NewEvent]) -> None:
        await self.store.append(
            thread_stream(thread.thread_id),
            list(events),
            expected_version=thread.version,
            tenant_id=tenant_id,
        )

    async def post(
        self, tenant_id: str, user_id: str, thread_id: str, messages: Sequence[dict[str, str]]
    ) -> str:
        """Post messages and request the reply; the reply's id. Refused when a budget is spent."""
        await self.budgets.check(self.store, tenant_id, user_id)
        reply_id = new_id()
        at = now()
        events = [
            NewEvent(
                MESSAGE_POSTED,
                {"message_id": new_id(), "user_id": user_id, "at": at, **message},
            )
            for message in messages
        ]
        events.append(
            NewEvent(REPLY_REQUESTED, {"reply_id": reply_id, "user_id": user_id, "at": at})
        )
        # A concurrent post to the same thread moved its version: read again and append
        # after it (posts do not conflict with each other, only need an order).
        for _ in range(5):
            thread = await self.thread(tenant_id, user_id, thread_id)
            try:
                await self._append(tenant_id, thread, events)
                return reply_id
            except ConcurrencyError:
                continue
        raise ConcurrencyError(thread_stream(thread_id), thread.version, None)

    async def rename(self, tenant_id: str, user_id: str, thread_id: str, title: str) -> None:
        thread = await self.thread(tenant_id, user_id, thread_id)
        await self._append(
            tenant_id, thread, [NewEvent(THREAD_RENAMED, {"title": title, "at": now()})]
        )

    async def delete(self, tenant_id: str, user_id: str, thread_id: str) -> None:
        thread = await self.thread(tenant_id, user_id, thread_id)
        await self._append(tenant_id, thread, [NewEvent(THREAD_DELETED, {"at": now()})])

    # --- replies ----------------------------------------------------------------------

    async def reply_owner(self, tenant_id: str, user_id: str, reply_id: str) -> dict[str, Any]:
        row = await self.store.fetchone(
            f"SELECT thread_id, user_id, status FROM {REPLIES.ref} "
            "WHERE tenant_id = ? AND reply_id = ?",
            [tenant_id, reply_id],
        )
        if row is None or row[1] != user_id:
            raise ReplyNotFound(f"no reply {reply_id}")
        return {"reply_id": reply_id, "thread_id": row[0], "status": row[2]}

    async def reply(self, tenant_id: str, user_id: str, reply_id: str) -> Reply:
        await self.reply_owner(tenant_id, user_id, reply_id)
        return await load_reply(self.store, reply_id, tenant_id)

    async def cancel(self, tenant_id: str, user_id: str, reply_id: str) -> Reply:
        """End the reply now; the worker's next append fails and it stops. A finished
        reply stays as it is (cancelling it again is not an error)."""
        await self.reply_owner(tenant_id, user_id, reply_id)
        writer = ReplyWriter(
            self.store, await load_reply(self.store, reply_id, tenant_id), tenant_id
        )
        with contextlib.suppress(ReplyEnded):
            while not writer.reply.finished:
                await writer.append(REPLY_CANCELLED, {"reply_id": reply_id, "at": now()})
        return writer.reply

    # --- reads --------------------------------------------------------------------------

    async def threads(
        self,
        tenant_id: str,
        user_id: str,
        query: ListQuery,
        *,
        after: Sequence[Any] | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], list[Any] | None, Total | None]:
        """A user's threads in ``query``'s order (last active first by default): the
        rows, the next page's key and the total when asked."""
        return await self._page(
            THREADS.ref,
            THREAD_COLUMNS,
            ["tenant_id = ?", "user_id = ?", "deleted = ?"],
            [tenant_id, user_id, False],
            query,
            after=after,
            limit=limit,
        )

    async def history(
        self,
        tenant_id: str,
        user_id: str,
        query: ListQuery,
        *,
        after: Sequence[Any] | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], list[Any] | None, Total | None]:
        """The user's messages and finished replies across threads, newest first."""
        return await self._page(
            MESSAGES.ref,
            MESSAGE_COLUMNS,
            ["tenant_id = ?", "user_id = ?"],
            [tenant_id, user_id],
            query,
            after=after,
            limit=limit,
        )

    async def _page(
        self,
        table: str,
        columns: Sequence[str],
        where: list[str],
        params: list[Any],
        query: ListQuery,
        *,
        after: Sequence[Any] | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], list[Any] | None, Total | None]:
        total = (
            await count_rows(self.store, f"FROM {table} WHERE {' AND '.join(where)}", params)
            if query.total
            else None
        )
        keyset = query.after(after)
        if keyset is not None:
            where, params = [*where, keyset[0]], [*params, *keyset[1]]
        rows = await self.store.fetchall(
            f"SELECT {', '.join(columns)} FROM {table} WHERE {' AND '.join(where)} "
            f"ORDER BY {query.order_by()} LIMIT ?",
            [*params, limit + 1],
        )
        found = [dict(zip(columns, row, strict=True)) for row in rows[:limit]]
        key = None
        if len(rows) > limit:
            last = found[-1]
            key = [last[query.column], last[query.sorts.tiebreak]]
        return found, key, total

    async def transcript(self, tenant_id: str, user_id: str, thread_id: str) -> dict[str, Any]:
        """The thread in order, each reply with its text so far and where it stands."""
        thread = await self.thread(tenant_id, user_id, thread_id)
        items: list[dict[str, Any]] = []
        for message in thread.messages:
            if "reply_id" in message:
                reply = await load_reply(self.store, message["reply_id"], tenant_id)
                items.append(
                    {
                        "role": "assistant",
                        "reply_id": reply.reply_id,
                        "status": reply.status,
                        "content": reply.text,
                        "seq": reply.version,
                        "citations": reply.citations,
                    }
                )
            else:
                items.append(dict(message))
        return {"thread_id": thread_id, "title": thread.title, "messages": items}


__all__ = ["Assistant", "ReplyNotFound", "ThreadNotFound"]
