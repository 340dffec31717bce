"""Contract: concurrent writers in one process, in other processes, and ``kill -9``."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
from collections import Counter, defaultdict
from typing import Any

import anyio

from headwater.errors import ConcurrencyError, DuplicateEventId, TenantMismatch
from headwater.eventstore import NO_STREAM, AppendResult, EventStore, RecordedEvent
from headwater.testing._eventstore_base import (
    WAIT_SECONDS,
    Ack,
    ContractBase,
    Subscriber,
    assert_strictly_increasing,
    finish_writer,
    new,
    parse_acks,
    positions,
    read_all,
    read_stream,
    release_writers,
    spawn_writer,
    versions,
)


def assert_contiguous_versions(events: list[RecordedEvent]) -> None:
    by_stream: dict[str, list[int]] = defaultdict(list)
    for event in events:
        by_stream[event.stream_id].append(event.version)
    for stream_id, found in by_stream.items():
        assert found == list(range(1, len(found) + 1)), stream_id


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


class ConcurrencyContract(ContractBase):
    # --- concurrent writers in one process ------------------------------------------

    async def test_sixteen_writers_racing_on_one_stream_win_each_version_exactly_once(
        self, store: EventStore
    ) -> None:
        writers, per_writer = 16, 3
        won: dict[int, int] = {}
        conflicts: list[tuple[int, ConcurrencyError]] = []
        first_round: list[str] = []
        ready = 0
        all_read = anyio.Event()

        async def writer(w: int) -> None:
            nonlocal ready
            appended, racing = 0, True
            while appended < per_writer:
                version = await store.stream_version("race") or 0
                if racing:  # every writer holds version 0 before anyone appends
                    ready += 1
                    if ready == writers:
                        all_read.set()
                    await all_read.wait()
                try:
                    result = await store.append(
                        "race", [new("Won", writer=w, n=appended)], expected_version=version
                    )
                except ConcurrencyError as exc:
                    conflicts.append((version, exc))
                    outcome = "lost"
                else:
                    assert result.version == version + 1
                    assert result.version not in won
                    won[result.version] = w
                    appended += 1
                    outcome = "won"
                if racing:
                    first_round.append(outcome)
                    racing = False

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tasks:
                for w in range(writers):
                    tasks.start_soon(writer, w)

        total = writers * per_writer
        assert sorted(first_round) == ["lost"] * (writers - 1) + ["won"]
        assert sorted(won) == list(range(1, total + 1))
        assert Counter(won.values()) == dict.fromkeys(range(writers), per_writer)
        assert len(conflicts) >= writers - 1
        for version, exc in conflicts:
            assert (exc.stream_id, exc.expected) == ("race", version)
            assert exc.actual is not None
            assert exc.actual > version
        events = await read_stream(store, "race")
        assert versions(events) == list(range(1, total + 1))
        assert [e.data["writer"] for e in events] == [won[v] for v in range(1, total + 1)]
        for w in range(writers):
            mine = [e.data["n"] for e in events if e.data["writer"] == w]
            assert mine == list(range(per_writer))
        assert len(await read_all(store)) == total

    async def test_concurrent_appends_to_many_streams_all_succeed_with_contiguous_positions(
        self, store: EventStore
    ) -> None:
        streams = 50
        with anyio.fail_after(WAIT_SECONDS * 3):
            results = await asyncio.gather(
                *[
                    store.append(f"s-{i}", [new(n=i), new(n=i)], expected_version=NO_STREAM)
                    for i in range(streams)
                ]
            )
        assert [(r.stream_id, r.version) for r in results] == [
            (f"s-{i}", 2) for i in range(streams)
        ]
        for result in results:
            assert result.positions[1] == result.positions[0] + 1
        every_position = sorted(p for r in results for p in r.positions)
        assert every_position == list(range(1, 2 * streams + 1))
        stored = await read_all(store)
        assert positions(stored) == every_position
        for result in results:
            events = await read_stream(store, result.stream_id)
            assert (versions(events), positions(events)) == ([1, 2], list(result.positions))

    async def test_one_failing_append_in_a_concurrent_burst_fails_alone(
        self, store: EventStore
    ) -> None:
        taken, reused = new(n=0), new(n=0)
        await store.append("taken", [taken])
        await store.append("elsewhere", [reused])
        await store.append("acme-only", [new()], tenant_id="acme")

        def fresh(i: int) -> Any:
            return store.append(f"fresh-{i}", [new(n=i)], expected_version=NO_STREAM)

        with anyio.fail_after(WAIT_SECONDS * 3):
            outcomes = await asyncio.gather(
                *[fresh(i) for i in range(0, 8)],
                store.append("taken", [new(n=1)], expected_version=NO_STREAM),
                *[fresh(i) for i in range(8, 16)],
                store.append("dup", [new(n=1), reused]),
                *[fresh(i) for i in range(16, 24)],
                store.append("acme-only", [new()], tenant_id="globex"),
                *[fresh(i) for i in range(24, 32)],
                return_exceptions=True,
            )

        failures = {i: o for i, o in enumerate(outcomes) if not isinstance(o, AppendResult)}
        assert sorted(failures) == [8, 17, 26]
        conflict = failures[8]
        assert isinstance(conflict, ConcurrencyError)
        assert (conflict.stream_id, conflict.expected, conflict.actual) == ("taken", NO_STREAM, 1)
        assert isinstance(failures[17], DuplicateEventId)
        assert isinstance(failures[26], TenantMismatch)
        assert await store.stream_version("taken") == 1
        assert await store.stream_version("dup") is None
        assert await store.stream_version("acme-only") == 1
        for i in range(32):
            assert await store.stream_version(f"fresh-{i}") == 1
        assert len(await read_all(store)) == 3 + 32

    async def test_the_same_events_appended_concurrently_are_stored_once(
        self, store: EventStore
    ) -> None:
        batch = [new(n=1), new(n=2)]
        with anyio.fail_after(WAIT_SECONDS):
            results = await asyncio.gather(
                *[store.append("retried", batch, expected_version=NO_STREAM) for _ in range(8)]
            )
        assert set(results) == {AppendResult("retried", 2, (1, 2))}
        assert [e.id for e in await read_all(store)] == [e.id for e in batch]

    async def test_one_event_id_raced_into_several_streams_is_stored_in_one_only(
        self, store: EventStore
    ) -> None:
        shared = new(n=1)
        with anyio.fail_after(WAIT_SECONDS):
            outcomes = await asyncio.gather(
                *[store.append(f"s-{i}", [new(n=0), shared]) for i in range(8)],
                return_exceptions=True,
            )
        won = [o for o in outcomes if isinstance(o, AppendResult)]
        lost = [o for o in outcomes if not isinstance(o, AppendResult)]
        assert len(won) == 1
        assert [type(o) for o in lost] == [DuplicateEventId] * 7
        stored = await read_all(store)
        assert [(e.stream_id, e.version) for e in stored] == [
            (won[0].stream_id, 1),
            (won[0].stream_id, 2),
        ]

    async def test_one_append_of_many_events_is_stored_whole_and_in_order(
        self, store: EventStore
    ) -> None:
        batch = [new(n=n) for n in range(2500)]
        with anyio.fail_after(WAIT_SECONDS * 3):
            result = await store.append("big", batch, expected_version=NO_STREAM)
        assert (result.version, result.positions) == (2500, tuple(range(1, 2501)))
        store.page_size = 1000
        events = await read_stream(store, "big")
        assert [e.id for e in events] == [e.id for e in batch]
        assert versions(events) == list(range(1, 2501))

    # --- other processes ------------------------------------------------------------

    async def test_writers_in_two_processes_are_seen_exactly_once_in_order_by_a_subscriber(
        self, store: EventStore, store_url: str
    ) -> None:
        self.require("shared_between_processes")
        # Another process's commits reach this one only through the poll (SQLite) or
        # LISTEN/NOTIFY (PostgreSQL); poll often so the subscriber reads mid-load.
        store.fallback_poll_seconds = 0.05
        store.page_size = 16
        tasks_per_child, events_per_task, local_events = 4, 40, 40
        sub = Subscriber(store)
        children: list[asyncio.subprocess.Process] = []
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(sub.run)
                for k in range(2):
                    stream_ids = [f"p{k}-{i}" for i in range(3)] + ["shared-0", "shared-1"]
                    children.append(
                        await spawn_writer(
                            store_url,
                            self.worker_opener,
                            f"p{k}",
                            stream_ids,
                            gate=True,
                            tasks=tasks_per_child,
                            events=events_per_task,
                            pause=0.003,  # let the processes take turns at the write lock
                        )
                    )
                await release_writers(children)  # all three processes write at once
                for n in range(local_events):  # this process writes meanwhile too
                    await store.append(f"local-{n % 2}", [new(writer="local", n=n)])
                    await store.append("shared-0", [new(writer="local", n=n)])
                    await anyio.sleep(0.005)
                acks = [ack for child in children for ack in await finish_writer(child)]
                head = await store.head_position()
                await sub.wait_for_position(head, within=30)
                await sub.assert_quiet(0.3)
                tasks.cancel_scope.cancel()
        finally:
            for child in children:
                await _stop(child)

        everything = await read_all(store)
        expected_total = 2 * tasks_per_child * events_per_task + 2 * local_events
        assert len(everything) == expected_total
        assert len(acks) == 2 * tasks_per_child * events_per_task
        assert_strictly_increasing(positions(sub.events))
        assert sub.events == everything
        assert_contiguous_versions(everything)
        self._assert_acks_stored(acks, everything)
        # The premise: the processes' commits really interleaved in the log.
        writers = [e.data["writer"] for e in everything if e.data["writer"] != "local"]
        assert sum(a != b for a, b in itertools.pairwise(writers)) >= 5

    async def test_kill_9_of_a_writer_mid_load_loses_no_acknowledged_append(
        self, store: EventStore, store_url: str
    ) -> None:
        self.require("shared_between_processes")
        self.require("survives_restart")
        wanted = 200
        child = await spawn_writer(
            store_url,
            self.worker_opener,
            "victim",
            [f"load-{i}" for i in range(4)],
            tasks=8,
            events=0,
            max_seconds=60,
        )
        output = bytearray()
        try:
            assert child.stdout is not None
            with anyio.fail_after(60):
                while output.count(b"ack ") < wanted:
                    chunk = await child.stdout.read(65536)
                    if not chunk:
                        break
                    output += chunk
            child.send_signal(signal.SIGKILL)
            with anyio.fail_after(WAIT_SECONDS):
                output += await child.stdout.read()
                await child.wait()
        finally:
            await _stop(child)
        assert child.returncode == -signal.SIGKILL, (child.returncode, bytes(output[-500:]))
        acks = parse_acks(bytes(output))
        assert len(acks) >= wanted

        await store.close()
        reopened = await self.open_store(store_url)
        try:
            everything = await read_all(reopened)
            assert_strictly_increasing(positions(everything))
            assert_contiguous_versions(everything)
            self._assert_acks_stored(acks, everything)
            # The store takes writes again. (Appends the victim sent but never saw
            # acknowledged may still commit around now: the server finishes them.)
            after = new(n="after")
            result = await reopened.append("load-0", [after])
            stored = [(e.id, e.version) for e in await read_stream(reopened, "load-0")]
            assert (after.id, result.version) in stored
        finally:
            await reopened.close()

    @staticmethod
    def _assert_acks_stored(acks: list[Ack], stored: list[RecordedEvent]) -> None:
        by_id = {str(event.id): event for event in stored}
        missing = [ack for ack in acks if ack.event_id not in by_id]
        assert missing == []
        for ack in acks:
            event = by_id[ack.event_id]
            assert (event.stream_id, event.version, event.position) == (
                ack.stream_id,
                ack.version,
                ack.position,
            )
