"""Continuous log shipping: the live tail goes to the target every ``interval`` seconds.

The shipper follows the log with ``read_all`` and keeps one open *tail* segment. At
each tick it adds the events appended since the last tick, writes the tail under a
key naming its new range, then writes the manifest naming it, then deletes the
tail's previous key. The tail is sealed (its entry marked ``sealed``; its bytes are
already final) once it holds ``segment_events`` events or is ``seal_seconds`` old,
and a new tail starts, chained to it.

Loss bound: an acknowledged event is in the target at most ``interval`` plus one
ship's duration after its append returned, so losing the machine loses at most that
much (0.5 s by default). For zero loss, :class:`ShippedAppender` makes each append
wait until the tick that carries it is written.

Run one shipper per log (one node, or the ``headwater backup ship`` process): the
manifest has one writer. All manifest edits (ships, pruning) take ``self._lock``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from headwater.backup._manifest import (
    MANIFEST_KEY,
    SEGMENT_PREFIX,
    Anchor,
    Manifest,
    SegmentEntry,
    segment_key,
)
from headwater.backup._segment import SegmentBuilder, decode_segment
from headwater.backup._target import BackupTarget
from headwater.errors import BackupError, BackupObjectMissing
from headwater.eventstore._protocol import EventStore
from headwater.eventstore._records import (
    ANY,
    AppendResult,
    ExpectedVersion,
    NewEvent,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ShipperOptions:
    #: Seconds between ships of the live tail: the loss bound on losing the machine.
    interval: float = 0.5
    #: A tail holding this many events is sealed and a new one begins.
    segment_events: int = 10_000
    #: A tail this old is sealed even when small, so tails stay cheap to rewrite.
    seal_seconds: float = 60.0
    #: Events read from the store per round trip.
    read_page: int = 5_000


@dataclass(frozen=True, slots=True)
class ShipStatus:
    shipped_position: int
    #: Wall-clock time (Unix seconds) of the last successful ship, None before any.
    shipped_at: float | None
    segments: int
    last_error: str | None


async def load_manifest(target: BackupTarget, key: str = MANIFEST_KEY) -> Manifest:
    """The manifest under ``key``, or an empty one when the target has none yet."""
    try:
        return Manifest.decode(await target.get(key))
    except BackupObjectMissing:
        return Manifest()


class Shipper:
    """Ships ``store``'s log to ``target``; :meth:`start` runs it in the background."""

    def __init__(
        self, store: EventStore, target: BackupTarget, options: ShipperOptions | None = None
    ) -> None:
        self.store = store
        self.target = target
        self.options = options or ShipperOptions()
        self.manifest = Manifest()
        self.shipped_at: float | None = None
        self.last_error: str | None = None
        self._builder: SegmentBuilder | None = None
        self._tail_started = 0.0
        self._lock = asyncio.Lock()
        self._kick = asyncio.Event()
        self._shipped = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._opened = False

    @property
    def shipped_position(self) -> int:
        return self.manifest.last_position

    def status(self) -> ShipStatus:
        return ShipStatus(
            self.shipped_position, self.shipped_at, len(self.manifest.segments), self.last_error
        )

    async def open(self) -> None:
        """Read the manifest, seal a tail left by a previous run, drop unlisted objects."""
        async with self._lock:
            manifest = await load_manifest(self.target)
            head = await self.store.head_position()
            if manifest.last_position > head:
                raise BackupError(
                    f"the target {self.target.location} holds positions up to "
                    f"{manifest.last_position}, beyond this store's head {head}: it backs up "
                    "another log; use an empty target"
                )
            if manifest.segments:
                await self._check_same_log(manifest)
            if manifest.tail is not None:
                # Its bytes are a complete segment already: sealing only flips the flag.
                manifest = replace(manifest, segments=(*manifest.segments[:-1], _sealed(manifest)))
                await self.target.put(MANIFEST_KEY, manifest.encode())
            listed = {entry.key for entry in manifest.segments}
            for key in await self.target.list(SEGMENT_PREFIX):
                if key not in listed:  # written by a run that died before its manifest
                    await self.target.delete(key)
            self.manifest = manifest
            self._opened = True

    async def _check_same_log(self, manifest: Manifest) -> None:
        last = manifest.segments[-1]
        content = decode_segment(await self.target.get(last.key))
        stored = [e async for e in self.store.read_all(after=last.last - 1, limit=1)]
        if not stored or not content.events or stored[0].id != content.events[-1].id:
            raise BackupError(
                f"the target {self.target.location} backs up another log (position "
                f"{last.last} differs from this store's): use an empty target"
            )

    async def ship_once(self) -> int:
        """Ship everything appended so far; returns the position now shipped."""
        if not self._opened:
            await self.open()
        async with self._lock:
            try:
                await self._ship_locked()
                self.last_error = None
            except Exception as exc:
                self.last_error = str(exc)
                raise
        async with self._shipped:
            self._shipped.notify_all()
        return self.shipped_position

    async def _ship_locked(self) -> None:
        options = self.options
        while True:
            builder = self._builder
            if builder is None:
                builder = SegmentBuilder(self.manifest.last_position + 1, self.manifest.head_sha)
                self._builder, self._tail_started = builder, time.monotonic()
            want = min(options.segment_events - builder.count, options.read_page)
            page = [e async for e in self.store.read_all(after=builder.last, limit=want)]
            builder.add(page)
            full = builder.count >= options.segment_events
            old = builder.count > 0 and (
                time.monotonic() - self._tail_started >= options.seal_seconds
            )
            # Also when an earlier write failed: the builder then holds unshipped events.
            if builder.count and (builder.last > self.manifest.last_position or full or old):
                await self._write_tail(builder, sealed=full or old)
            if full or old:
                self._builder = None
            if len(page) < want:
                return  # caught up with the log

    async def _write_tail(self, builder: SegmentBuilder, *, sealed: bool) -> None:
        blob = builder.blob()
        entry = builder.entry(
            segment_key(SEGMENT_PREFIX, builder.first, builder.last), blob, sealed=sealed
        )
        previous = self.manifest.tail
        if previous is None or previous.key != entry.key:
            # Object first, then the manifest naming it, then the old tail's removal:
            # a crash at any point leaves a manifest whose objects all exist.
            await self.target.put(entry.key, blob)
        manifest = self.manifest.with_tail(entry)
        await self.target.put(MANIFEST_KEY, manifest.encode())
        self.manifest = manifest
        self.shipped_at = time.time()
        if previous is not None and previous.key != entry.key:
            await self.target.delete(previous.key)

    async def prune_through(self, position: int) -> list[SegmentEntry]:
        """Drop sealed segments that end at or below ``position`` (retention's step).

        The manifest's anchor keeps the last dropped segment's hash, so the chain of
        what remains still verifies from its first link.
        """
        if not self._opened:
            await self.open()
        async with self._lock:
            dropped = [s for s in self.manifest.segments if s.sealed and s.last <= position]
            if not dropped:
                return []
            kept = tuple(s for s in self.manifest.segments if s not in dropped)
            anchor = Anchor(dropped[-1].last, dropped[-1].sha256)
            manifest = replace(self.manifest, segments=kept, anchor=anchor)
            # Manifest first: until it is written the dropped objects stay listed.
            await self.target.put(MANIFEST_KEY, manifest.encode())
            self.manifest = manifest
            for entry in dropped:
                await self.target.delete(entry.key)
            return dropped

    # --- background -----------------------------------------------------------------

    async def start(self) -> None:
        await self.open()
        self._task = asyncio.create_task(self._run(), name="backup shipper")

    async def stop(self) -> None:
        """Stop the loop after one last ship, so a clean shutdown loses nothing."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            try:
                await self.ship_once()
            except Exception as exc:
                log.warning("backup: the final ship failed (%s)", exc)

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.ship_once()
            except Exception as exc:
                log.warning("backup: shipping to %s failed (%s)", self.target.location, exc)
            # Interval measured from the start of the tick, so a slow ship does not
            # stretch the loss bound by its own duration on every tick.
            delay = max(0.0, self.options.interval - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._kick.wait()
            self._kick.clear()

    async def wait_shipped(self, position: int) -> None:
        """Return once ``position`` is in the target; asks for a ship at once.

        Callers bound the wait with ``asyncio.timeout`` when the target may be down."""
        if self._task is None:
            while self.shipped_position < position:
                await self.ship_once()
            return
        async with self._shipped:
            while self.shipped_position < position:
                self._kick.set()
                await self._shipped.wait()


def _sealed(manifest: Manifest) -> SegmentEntry:
    tail = manifest.tail
    assert tail is not None
    return replace(tail, sealed=True)


class ShippedAppender:
    """Appends that return only once shipped: zero loss when the machine is lost.

    Concurrent appends share ships (the shipper batches whatever is new at each
    tick), so the cost is latency, about one target write, not throughput.
    """

    def __init__(self, store: EventStore, shipper: Shipper) -> None:
        self.store = store
        self.shipper = shipper

    async def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent] | NewEvent,
        *,
        expected_version: ExpectedVersion = ANY,
        tenant_id: str | None = None,
    ) -> AppendResult:
        result = await self.store.append(
            stream_id, events, expected_version=expected_version, tenant_id=tenant_id
        )
        await self.shipper.wait_shipped(result.last_position)
        return result
