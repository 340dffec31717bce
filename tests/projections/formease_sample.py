"""A FormEase-style read side used by the projection tests (and their subprocess).

user.created {user_id, email, plan} · form.created {form_id, user_id, title}
submission.received {submission_id, form_id, user_id, completion_ms}
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from headwater.eventstore import EventStore, NewEvent, RecordedEvent, Statement
from headwater.projections import (
    INTEGER,
    TEXT,
    TIMESTAMP,
    Column,
    Merge,
    Projection,
    Table,
)

USERS = Table(
    "rm_user_stats",
    {
        "user_id": TEXT,
        "email": TEXT,
        "plan": TEXT,
        "created_at": TIMESTAMP,
        "forms": Column(INTEGER, default=0),
        "submissions": Column(INTEGER, default=0),
        "last_submission_at": Column(TIMESTAMP, nullable=True),
    },
    primary_key="user_id",
    indexes=[("plan", "created_at")],
)

SUBMISSIONS = Table(
    "rm_submissions",
    {
        "submission_id": TEXT,
        "form_id": TEXT,
        "user_id": TEXT,
        "created_at": TIMESTAMP,
        "completion_ms": INTEGER,
    },
    primary_key="submission_id",
    indexes=[("form_id", "created_at"), "created_at"],
)

user_stats = Projection("user_stats", tables=[USERS])


@user_stats.on("user.created")
def _user_created(event: RecordedEvent) -> Statement:
    return USERS.upsert(
        {
            "user_id": event.data["user_id"],
            "email": event.data["email"],
            "plan": event.data["plan"],
            "created_at": event.recorded_at,
        },
        merge={"created_at": Merge.KEEP},
    )


@user_stats.on("form.created")
def _form_created(event: RecordedEvent) -> Statement:
    return USERS.increment({"forms": 1}, where={"user_id": event.data["user_id"]})


@user_stats.on("submission.received")
def _submission(event: RecordedEvent) -> Statement:
    return USERS.update(
        {"last_submission_at": event.recorded_at},
        add={"submissions": 1},
        where={"user_id": event.data["user_id"]},
    )


form_metrics = Projection("form_metrics", tables=[SUBMISSIONS])


@form_metrics.on("submission.received")
def _record_submission(event: RecordedEvent) -> Statement:
    return SUBMISSIONS.insert(
        {
            "submission_id": event.data["submission_id"],
            "form_id": event.data["form_id"],
            "user_id": event.data["user_id"],
            "created_at": event.recorded_at,
            "completion_ms": event.data["completion_ms"],
        }
    )


def history(count: int, *, seed: int = 7, users: int = 20) -> Iterator[tuple[str, NewEvent]]:
    """(stream id, event) pairs: users first, then forms and submissions mixed."""
    rng = random.Random(seed)
    for u in range(users):
        yield (
            f"user-{u}",
            NewEvent(
                "user.created",
                {
                    "user_id": f"u{u}",
                    "email": f"u{u}@example.com",
                    "plan": rng.choice(["free", "pro"]),
                },
            ),
        )
    forms: list[tuple[str, str]] = []
    for n in range(max(0, count - users)):
        if not forms or rng.random() < 0.1:
            form_id, user_id = f"f{seed}-{len(forms)}", f"u{rng.randrange(users)}"
            forms.append((form_id, user_id))
            yield (
                f"form-{form_id}",
                NewEvent("form.created", {"form_id": form_id, "user_id": user_id, "title": "t"}),
            )
        else:
            form_id, user_id = rng.choice(forms)
            yield (
                f"form-{form_id}",
                NewEvent(
                    "submission.received",
                    {
                        "submission_id": f"s{seed}-{n}",
                        "form_id": form_id,
                        "user_id": user_id,
                        "completion_ms": rng.randrange(1_000, 90_000),
                    },
                ),
            )


async def append_history(store: EventStore, count: int, *, seed: int = 7, chunk: int = 200) -> None:
    """Append ``count`` events concurrently in chunks (group commit keeps it quick)."""
    import asyncio

    pending = list(history(count, seed=seed))
    for start in range(0, len(pending), chunk):
        part = pending[start : start + chunk]
        await asyncio.gather(*(store.append(stream, [event]) for stream, event in part))


async def table_rows(store: EventStore, table: Table) -> list[dict[str, object]]:
    rows = await store.fetchall(table.select_all_sql())
    return [table.decode_row(row) for row in rows]
