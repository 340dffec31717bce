"""Restore: the log up to a position or a time, into an empty store, then every read model.

A plan picks the segments first (``plan_restore``; ``--dry-run`` prints it): the
continuous log alone while it still starts at position 1, otherwise the newest base
backup at or below the target followed by the log after it. Every segment is checked
(size, checksum, chain link, range) as it is read, before any of its events is
written, so a corrupt backup stops the restore at the last good position instead of
restoring damage. Events are written verbatim (``loader``), then each projection is
rebuilt from the restored log. Only the log is restored: read models are derived from
it, and job and session tables are the operational state of a running node.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from headwater.backup._base import BaseInfo, list_bases
from headwater.backup._loader import load_rows, require_empty
from headwater.backup._manifest import DRILL_KEY, MANIFEST_KEY, Manifest, SegmentEntry
from headwater.backup._segment import (
    Row,
    SegmentContent,
    SegmentRows,
    decode_rows,
    row_to_event,
    sha256,
    to_micros,
)
from headwater.backup._shipper import load_manifest
from headwater.backup._target import BackupTarget
from headwater.errors import BackupCorrupt, BackupObjectMissing, RestoreRefused
from headwater.eventstore._protocol import EventStore
from headwater.projections import Projection, RebuildResult, migrate_projections, rebuild

#: Restore speed assumed by a dry run before any drill has measured one (events/s,
#: load and rebuild together); deliberately below what the benchmark measures.
DEFAULT_RESTORE_RATE = 15_000.0
#: Events written per transaction while loading.
LOAD_BATCH = 5_000

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class RestoreSource:
    """Segments of one chain, and the position below which its events are skipped."""

    name: str
    segments: tuple[SegmentEntry, ...]
    after: int = 0


@dataclass(frozen=True, slots=True)
class RestorePlan:
    to_position: int
    #: Time of the last event restored (None for an empty restore).
    to_time_us: int | None
    sources: tuple[RestoreSource, ...]
    events: int
    bytes: int
    rate_eps: float
    rate_measured: bool

    @property
    def segments(self) -> int:
        return sum(len(s.segments) for s in self.sources)

    @property
    def estimated_seconds(self) -> float:
        return self.events / self.rate_eps

    def describe(self) -> list[str]:
        lines = [
            f"restore positions 1-{self.to_position} ({self.events} events) "
            f"from {self.segments} segments, {self.bytes} bytes compressed",
        ]
        lines.extend(
            f"  {source.name}: {len(source.segments)} segments"
            + (f", after position {source.after}" if source.after else "")
            for source in self.sources
        )
        basis = "the last drill's measured rate" if self.rate_measured else "a default rate"
        lines.append(
            f"estimated duration {self.estimated_seconds:.1f}s at {self.rate_eps:.0f} events/s "
            f"({basis}), projection rebuilds included"
        )
        return lines


@dataclass(frozen=True, slots=True)
class RestoreResult:
    position: int
    events: int
    load_seconds: float
    rebuild_seconds: float
    rebuilds: list[RebuildResult] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.load_seconds + self.rebuild_seconds


async def _last_rate(target: BackupTarget) -> float | None:
    try:
        raw = orjson.loads(await target.get(DRILL_KEY))
    except (BackupObjectMissing, orjson.JSONDecodeError):
        return None
    rate = raw.get("restore_events_per_second") if isinstance(raw, dict) else None
    return float(rate) if isinstance(rate, (int, float)) and rate > 0 else None


async def _position_at(target: BackupTarget, manifest: Manifest, micros: int) -> int:
    """The last position recorded at or before ``micros``, to the event."""
    position = manifest.anchor.through
    for entry in manifest.segments:
        if entry.first_us > micros:
            break
        if entry.last_us <= micros:
            position = entry.last
            continue
        content = await fetch_segment(target, entry)
        for event in content.events:
            if to_micros(event.recorded_at) > micros:
                break
            position = event.position
        break
    return position


async def fetch_rows(target: BackupTarget, entry: SegmentEntry) -> SegmentRows:
    """A segment's rows, after checking its size, checksum and range."""
    blob = await target.get(entry.key)
    if len(blob) != entry.size or sha256(blob) != entry.sha256:
        raise BackupCorrupt(
            f"segment {entry.key} (positions {entry.first}-{entry.last}) fails its checksum"
        )
    # Decoding a few MB takes tens of milliseconds: off the event loop.
    content = await asyncio.to_thread(decode_rows, blob)
    if (content.first, content.last, content.prev) != (entry.first, entry.last, entry.prev):
        raise BackupCorrupt(f"segment {entry.key} does not hold what the manifest says")
    return content


async def fetch_segment(target: BackupTarget, entry: SegmentEntry) -> SegmentContent:
    """A segment's events (see :func:`fetch_rows`)."""
    content = await fetch_rows(target, entry)
    return SegmentContent(content.first, content.prev, [row_to_event(r) for r in content.rows])


def _check_links(source: RestoreSource, anchor_sha: str | None) -> None:
    prev = anchor_sha
    for entry in source.segments:
        if prev is not None and entry.prev != prev:
            raise BackupCorrupt(
                f"{source.name}: segment {entry.key} (positions {entry.first}-{entry.last}) "
                "does not link to the previous segment"
            )
        prev = entry.sha256


async def plan_restore(
    target: BackupTarget,
    *,
    to_position: int | None = None,
    to_time: datetime | None = None,
) -> RestorePlan:
    """Which segments a restore to ``to_position`` or ``to_time`` (or the latest) reads."""
    if to_position is not None and to_time is not None:
        raise RestoreRefused("give a position or a time to restore to, not both")
    if to_position is not None and (
        isinstance(to_position, bool) or not isinstance(to_position, int) or to_position < 1
    ):
        raise RestoreRefused(f"the position to restore to must be at least 1, not {to_position}")
    log = await load_manifest(target, MANIFEST_KEY)
    bases = await list_bases(target)
    base_manifests = {b.id: Manifest.decode(await target.get(b.manifest_key)) for b in bases}
    latest = max([log.last_position, *(b.position for b in bases)], default=0)
    if latest == 0:
        raise RestoreRefused(f"{target.location} holds no backup to restore")
    if to_time is not None:
        if to_time.tzinfo is None:
            raise RestoreRefused("the time to restore to needs a timezone (e.g. ...Z or +00:00)")
        micros = to_micros(to_time)
        chains = [log, *base_manifests.values()]
        position = max([await _position_at(target, m, micros) for m in chains])
        if position == 0:
            raise RestoreRefused(f"no backed-up event was recorded at or before {to_time}")
    else:
        position = latest if to_position is None else to_position
    if position > latest:
        raise RestoreRefused(
            f"the backup ends at position {latest}; it cannot restore to {position}"
        )
    sources = _choose(log, bases, base_manifests, position)
    segments = [s for source in sources for s in source.segments]
    last = next((s for s in reversed(segments) if s.first <= position), None)
    rate = await _last_rate(target)
    return RestorePlan(
        to_position=position,
        to_time_us=None if last is None else (last.last_us if last.last == position else None),
        sources=tuple(sources),
        events=position,
        bytes=sum(s.size for s in segments),
        rate_eps=rate or DEFAULT_RESTORE_RATE,
        rate_measured=rate is not None,
    )


def _choose(
    log: Manifest, bases: Sequence[BaseInfo], manifests: dict[str, Manifest], position: int
) -> list[RestoreSource]:
    def upto(manifest: Manifest) -> tuple[SegmentEntry, ...]:
        return tuple(manifest.covering(position))

    if log.anchor.through == 0 and log.last_position >= position:
        return [RestoreSource("log", upto(log))]
    covering = [b for b in bases if b.position >= position]
    if covering:
        base = min(covering, key=lambda b: b.position)
        return [RestoreSource(f"base {base.id}", upto(manifests[base.id]))]
    starts = [b for b in bases if log.anchor.through <= b.position < position]
    if starts and log.last_position >= position:
        base = max(starts, key=lambda b: b.position)
        rest = tuple(s for s in upto(log) if s.last > base.position)
        return [
            RestoreSource(f"base {base.id}", tuple(manifests[base.id].segments)),
            RestoreSource("log", rest, after=base.position),
        ]
    raise RestoreRefused(
        f"no base backup and log segments together reach position {position}: "
        f"the log starts after {log.anchor.through} and no base covers the gap"
    )


async def restore(
    target: BackupTarget,
    store: EventStore,
    projections: Sequence[Projection] = (),
    *,
    plan: RestorePlan | None = None,
    to_position: int | None = None,
    to_time: datetime | None = None,
    progress: Progress | None = None,
) -> RestoreResult:
    """Restore into ``store`` (which must be empty), then rebuild every projection."""
    if plan is None:
        plan = await plan_restore(target, to_position=to_position, to_time=to_time)
    await require_empty(store)
    started = time.monotonic()
    loaded = await _load(target, store, plan, progress)
    load_seconds = time.monotonic() - started
    started = time.monotonic()
    await migrate_projections(store)
    if store.dialect == "postgresql":
        # Side by side: each has its own connections, and the server overlaps one's
        # reads with another's writes (measured about 1.3x faster for two).
        rebuilds = list(await asyncio.gather(*(rebuild(store, p) for p in projections)))
    else:
        # One after the other: SQLite has one writer, which they would queue on anyway.
        rebuilds = [await rebuild(store, projection) for projection in projections]
    return RestoreResult(
        plan.to_position, loaded, load_seconds, time.monotonic() - started, rebuilds
    )


async def _load(
    target: BackupTarget, store: EventStore, plan: RestorePlan, progress: Progress | None
) -> int:
    pending: list[Row] = []
    loaded = 0
    written = 0  # the highest position already taken from an earlier source
    for source in plan.sources:
        _check_links(source, None)
        entries = list(source.segments)
        # Fetch the next segment while this one is written: target reads and store
        # writes then overlap instead of taking turns.
        next_fetch = asyncio.ensure_future(fetch_rows(target, entries[0])) if entries else None
        try:
            for index in range(len(entries)):
                assert next_fetch is not None
                content = await next_fetch
                next_fetch = (
                    asyncio.ensure_future(fetch_rows(target, entries[index + 1]))
                    if index + 1 < len(entries)
                    else None
                )
                skip = max(source.after, written)
                for row in content.rows:
                    if row[0] <= skip:
                        continue
                    if row[0] > plan.to_position:
                        break
                    pending.append(row)
                if len(pending) >= LOAD_BATCH:
                    await load_rows(store, pending)
                    loaded += len(pending)
                    written = pending[-1][0]
                    pending = []
                    if progress is not None:
                        progress(written, plan.to_position)
        finally:
            if next_fetch is not None:
                next_fetch.cancel()
        if pending:
            await load_rows(store, pending)
            loaded += len(pending)
            written = pending[-1][0]
            pending = []
    if written != plan.to_position:
        raise BackupCorrupt(
            f"the backup's segments end at position {written}, not {plan.to_position}"
        )
    if progress is not None:
        progress(written, plan.to_position)
    return loaded
