"""The demo scenario: a small wedding's door, told through the event store.

It runs on a fresh SQLite file and reports what each step proved: group commit
under concurrent writers, a lost race refused by optimistic concurrency, an
idempotent retry, a live subscription that misses nothing, and a read model
committed together with its checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from headwater.errors import ConcurrencyError
from headwater.eventstore import (
    NO_STREAM,
    EventStore,
    NewEvent,
    RecordedEvent,
    Statement,
    create_event_store,
)
from headwater.eventstore._factory import sqlite_path

FAMILIES = 40
GUESTS_PER_FAMILY = 5
TENANT = "organizer-1"


async def run(url: str, console: Console) -> None:
    if url.startswith("sqlite:///") and ":memory:" not in url:
        path = Path(sqlite_path(url))
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    results: list[tuple[str, str]] = []
    async with await create_event_store(url) as store:
        console.print(f"[bold]Headwater demo[/bold] on {url}")
        follower = _Follower()
        live = asyncio.create_task(follower.follow(store.subscribe()))
        try:
            await _scenario(store, follower, results)
        finally:
            live.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await live

    table = Table(title="What the demo showed", show_lines=False)
    table.add_column("step", style="bold cyan")
    table.add_column("result")
    for step, text in results:
        table.add_row(step, text)
    console.print(table)
    console.print(f"Data kept in {url}. The HTTP server and the apps arrive with the next issues.")


async def _scenario(store: EventStore, follower: _Follower, results: list[tuple[str, str]]) -> None:
    await store.append(
        "event-wedding",
        [NewEvent("EventCreated", {"name": "Alice & Bob", "capacity": 250})],
        expected_version=NO_STREAM,
        tenant_id=TENANT,
    )

    started = time.perf_counter()
    await asyncio.gather(*(_invite_family(store, f) for f in range(FAMILIES)))
    elapsed = time.perf_counter() - started
    guests = FAMILIES * GUESTS_PER_FAMILY
    results.append(
        (
            "invite",
            f"{guests} guests in {FAMILIES} families by {FAMILIES} concurrent "
            f"writers: {guests / elapsed:,.0f} events/s, each durable (synchronous=FULL)",
        )
    )

    # Two doors scan the same guest at once: both read version 1, one wins.
    version = await store.require_stream("guest-0-0")
    outcomes = await asyncio.gather(
        *(_scan(store, "guest-0-0", version, door) for door in ("north", "south")),
        return_exceptions=True,
    )
    won = [o for o in outcomes if not isinstance(o, BaseException)]
    lost = [o for o in outcomes if isinstance(o, ConcurrencyError)]
    results.append(
        (
            "double scan",
            f"{len(won)} admitted, {len(lost)} refused with ConcurrencyError "
            f"(stream at version {lost[0].actual if lost else '?'})",
        )
    )

    # The scanner lost its network and sends the same scan again: a no-op.
    scan = NewEvent("GuestCheckedIn", {"door": "north"}, id=uuid.uuid4())
    first = await store.append("guest-1-0", [scan], expected_version=1, tenant_id=TENANT)
    again = await store.append("guest-1-0", [scan], expected_version=1, tenant_id=TENANT)
    results.append(
        (
            "retry",
            f"same scan sent twice -> same result {again.positions} == "
            f"{first.positions}, nothing written twice",
        )
    )

    # A read model and its checkpoint, committed in one transaction.
    head = await store.head_position()
    checked_in = [e async for e in store.read_all(types=["GuestCheckedIn"])]
    await store.commit(
        [
            Statement("CREATE TABLE IF NOT EXISTS demo_doors (door TEXT PRIMARY KEY, n INT)"),
            Statement.executemany(
                "INSERT INTO demo_doors (door, n) VALUES (?, 1) "
                "ON CONFLICT (door) DO UPDATE SET n = n + 1",
                [(e.data["door"],) for e in checked_in],
            ),
        ],
        checkpoint=("demo-doors", head),
    )
    results.append(
        (
            "read model",
            f"{len(checked_in)} check-ins projected; checkpoint at position "
            f"{await store.get_checkpoint('demo-doors')} committed with the rows",
        )
    )

    await follower.wait_for(head)
    seen = follower.seen
    in_order = seen == sorted(set(seen))
    results.append(
        (
            "live feed",
            f"subscriber saw {len(seen)} events of {head}, "
            f"{'in order, no gap, no duplicate' if in_order and len(seen) == head else 'MISMATCH'}",
        )
    )


async def _invite_family(store: EventStore, family: int) -> None:
    for member in range(GUESTS_PER_FAMILY):
        await store.append(
            f"guest-{family}-{member}",
            [NewEvent("GuestInvited", {"family": family, "member": member})],
            expected_version=NO_STREAM,
            tenant_id=TENANT,
        )


async def _scan(store: EventStore, stream_id: str, version: int, door: str) -> int:
    result = await store.append(
        stream_id,
        [NewEvent("GuestCheckedIn", {"door": door})],
        expected_version=version,
        tenant_id=TENANT,
    )
    return result.version


class _Follower:
    """Records the positions a subscription delivers, and lets the demo wait for them."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self._progress = asyncio.Event()

    async def follow(self, events: AsyncIterator[RecordedEvent]) -> None:
        async for event in events:
            self.seen.append(event.position)
            self._progress.set()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.seen) < count:
                self._progress.clear()
                await self._progress.wait()
