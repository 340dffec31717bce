"""Base backups: a full copy of the log up to one position, as its own chain.

The continuous log alone restores anything, but only while every segment since
position 1 is kept. A base lets retention drop old log segments: a restore starts
from the newest base at or below its target and replays the log after it. A base is
written under ``bases/<id>/`` (segments, then its manifest last, so a base whose
manifest exists is complete) and never changes afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from headwater.backup._manifest import (
    BASE_PREFIX,
    MANIFEST_KEY,
    Manifest,
    SegmentEntry,
    segment_key,
)
from headwater.backup._segment import SegmentBuilder
from headwater.backup._target import BackupTarget
from headwater.errors import BackupCorrupt
from headwater.eventstore._protocol import EventStore


@dataclass(frozen=True, slots=True)
class BaseInfo:
    id: str
    position: int
    created_us: int

    @property
    def created(self) -> datetime:
        return datetime.fromtimestamp(self.created_us / 1_000_000, UTC)

    @property
    def manifest_key(self) -> str:
        return f"{BASE_PREFIX}{self.id}/{MANIFEST_KEY}"


def base_id(position: int, created_us: int) -> str:
    stamp = datetime.fromtimestamp(created_us / 1_000_000, UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{position:020d}"


def parse_base_id(name: str) -> BaseInfo:
    try:
        stamp, position = name.rsplit("-", 1)
        created = datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
        micros = int(created.timestamp()) * 1_000_000 + created.microsecond
        return BaseInfo(name, int(position), micros)
    except ValueError as exc:
        raise BackupCorrupt(f"{name!r} is not a base backup's name") from exc


async def list_bases(target: BackupTarget) -> list[BaseInfo]:
    """Complete bases (those whose manifest exists), oldest first."""
    found = []
    for key in await target.list(BASE_PREFIX):
        parts = key.split("/")
        if len(parts) == 3 and parts[2] == MANIFEST_KEY:
            found.append(parse_base_id(parts[1]))
    return sorted(found, key=lambda b: (b.position, b.created_us))


async def create_base(
    store: EventStore,
    target: BackupTarget,
    *,
    up_to: int | None = None,
    segment_events: int = 10_000,
    now_us: int | None = None,
) -> BaseInfo:
    """Copy the log from position 1 to ``up_to`` (default: the head) into a new base."""
    head = await store.head_position()
    position = head if up_to is None else min(up_to, head)
    created_us = now_us if now_us is not None else int(time.time() * 1_000_000)
    info = BaseInfo(base_id(position, created_us), position, created_us)
    prefix = f"{BASE_PREFIX}{info.id}/segments/"
    entries: list[SegmentEntry] = []
    prev, after = "", 0
    while after < position:
        builder = SegmentBuilder(after + 1, prev)
        limit = min(segment_events, position - after)
        batch = [e async for e in store.read_all(after=after, limit=limit)]
        if not batch:
            break
        builder.add(batch)
        blob = builder.blob()
        entry = builder.entry(segment_key(prefix, builder.first, builder.last), blob)
        await target.put(entry.key, blob)
        entries.append(entry)
        prev, after = entry.sha256, entry.last
    manifest = Manifest(tuple(entries), base_id=info.id, created_us=created_us)
    await target.put(info.manifest_key, manifest.encode())
    return info


async def delete_base(target: BackupTarget, info: BaseInfo) -> None:
    # The manifest goes first: without it the base no longer counts as complete.
    await target.delete(info.manifest_key)
    for key in await target.list(f"{BASE_PREFIX}{info.id}/"):
        await target.delete(key)
