"""The builder's read model: a user's builds and where each stands (the page's panel).

Inline, like the assistant's other projections: a build is listed, and its status
moves, in the same transaction as the event that says so.
"""

from __future__ import annotations

from typing import Any, Final

from apps.assistant.builder import (
    BUILD_ATTEMPT_FAILED,
    BUILD_COMPLETED,
    BUILD_FAILED,
    BUILD_PROGRESS,
    BUILD_REQUESTED,
    STEPS,
)
from headwater.eventstore import EventStore, RecordedEvent, Statement
from headwater.projections import INTEGER, TEXT, Column, Projection, Table

BUILDS = Table(
    "as_builds",
    {
        "tenant_id": TEXT,
        "build_id": TEXT,
        "user_id": TEXT,
        "app": TEXT,
        "status": TEXT,
        "attempts": INTEGER,
        "step": TEXT,
        "done": INTEGER,
        "error": Column(TEXT, nullable=True),
        "created_at": TEXT,
        "updated_at": TEXT,
    },
    primary_key=("tenant_id", "build_id"),
    indexes=[("tenant_id", "user_id", "created_at", "build_id")],
    tenant_column="tenant_id",
)
builds = Projection("as_builds", tables=[BUILDS], mode="inline")
BUILD_PROJECTIONS: Final = (builds,)
#: The panel shows the latest builds; older ones stay readable by id.
LIST_LIMIT: Final = 50


def _key(event: RecordedEvent) -> dict[str, str]:
    return {"tenant_id": event.tenant_id or "", "build_id": str(event.data["build_id"])}


@builds.on(BUILD_REQUESTED)
def _requested(event: RecordedEvent) -> Statement:
    data = event.data
    row = {
        **_key(event),
        "user_id": data["user_id"],
        "app": data["spec"]["app"],
        "status": "queued",
        "attempts": 0,
        "step": "",
        "done": 0,
        "error": None,
        "created_at": data["at"],
        "updated_at": data["at"],
    }
    return BUILDS.upsert(row)


@builds.on(BUILD_PROGRESS)
def _progress(event: RecordedEvent) -> Statement:
    data = event.data
    values = {
        "status": "running",
        "attempts": data["attempt"],
        "step": data["step"],
        "done": data["done"],
        "updated_at": data["at"],
    }
    return BUILDS.update(values, where=_key(event))


@builds.on(BUILD_ATTEMPT_FAILED)
def _attempt_failed(event: RecordedEvent) -> Statement:
    data = event.data
    values = {
        "status": "retrying",
        "attempts": data["attempt"],
        "error": data["error"],
        "updated_at": data["at"],
    }
    return BUILDS.update(values, where=_key(event))


@builds.on(BUILD_COMPLETED)
def _completed(event: RecordedEvent) -> Statement:
    data = event.data
    values = {
        "status": "completed",
        "attempts": data["attempt"],
        "step": "completed",
        "done": len(STEPS),
        "error": None,
        "updated_at": data["at"],
    }
    return BUILDS.update(values, where=_key(event))


@builds.on(BUILD_FAILED)
def _failed(event: RecordedEvent) -> Statement:
    values = {"status": "failed", "error": event.data["error"], "updated_at": event.data["at"]}
    return BUILDS.update(values, where=_key(event))


async def user_builds(store: EventStore, tenant_id: str, user_id: str) -> list[dict[str, Any]]:
    """The user's builds, newest first."""
    columns = ("build_id", "app", "status", "attempts", "step", "done", "error", "created_at")
    rows = await store.fetchall(
        f"SELECT {', '.join(columns)} FROM {BUILDS.ref} WHERE tenant_id = ? AND user_id = ? "
        "ORDER BY created_at DESC, build_id DESC LIMIT ?",
        (tenant_id, user_id, LIST_LIMIT),
    )
    found = []
    for row in rows:
        item = dict(zip(columns, row, strict=True))
        item["progress"] = {"step": item.pop("step"), "done": item.pop("done"), "total": len(STEPS)}
        found.append(item)
    return found
