"""Erasure: what sealed personal fields cost a reader, and how long erasing a subject takes.

    .venv/bin/python benchmarks/erasure.py --quick      # under a minute
    .venv/bin/python benchmarks/erasure.py              # a larger log, more repeats

Both on SQLite files (WAL, ``synchronous=FULL``), same machine, same run:

- ``read_all_with_personal_fields_ratio``: events/s of ``read_all`` over a log whose
  events carry two sealed personal fields (name, email), opened with
  ``PersonalDataCipher.open`` page by page, divided by events/s of ``read_all`` over
  the same events stored in plain text (the baseline: the same store without
  personal fields). Target >= 0.7. ``..._decoded_ratio`` repeats both with each event
  decoded to its typed class, as an aggregate load does.
- ``erase_seconds``: ``Eraser.erase_subject`` for a subject with 10,000 events in its
  stream (the key is deleted and SubjectErased appended; nothing is rewritten, so
  the figure does not grow with the subject's events).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from headwater.domain import Event, default_registry
from headwater.eventstore import EventStore, NewEvent, RecordedEvent, create_event_store
from headwater.privacy import Eraser, Personal, PersonalDataCipher, SubjectKeys

PAGE = 1_000
SUBJECT_EVENTS = 10_000


class BenchGuestSeen(Event, type="bench.erasure.GuestSeen"):
    name: Annotated[str, Personal("[erased]")]
    email: Annotated[str | None, Personal(None)] = None
    gate: str
    seat: int


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _events(subject: int, count: int) -> list[NewEvent]:
    return [
        default_registry.encode(
            BenchGuestSeen(
                name=f"Guest {subject} number {i}",
                email=f"guest{subject}.{i}@example.org",
                gate=f"gate-{i % 4}",
                seat=i,
            )
        )
        for i in range(count)
    ]


async def _fill(store: EventStore, cipher: PersonalDataCipher | None, total: int) -> None:
    per_stream = 100
    for subject in range(total // per_stream):
        stream = f"guest-{subject}"
        events = _events(subject, per_stream)
        if cipher is not None:
            events = await cipher.seal(events, stream_id=stream, tenant_id="t1")
        await store.append(stream, events, tenant_id="t1")


async def _read(store: EventStore, cipher: PersonalDataCipher | None, decode: bool) -> float:
    started = time.perf_counter()
    count = 0
    page: list[RecordedEvent] = []

    async def flush(records: Sequence[RecordedEvent]) -> None:
        opened = list(records) if cipher is None else await cipher.open(records)
        if decode:
            for record in opened:
                default_registry.decode(record)

    async for record in store.read_all(tenant_id="t1"):
        page.append(record)
        count += 1
        if len(page) == PAGE:
            await flush(page)
            page = []
    if page:
        await flush(page)
    return count / (time.perf_counter() - started)


async def _erase_seconds(folder: Path) -> float:
    store = await create_event_store(f"sqlite:///{folder / 'subject.db'}")
    try:
        keys = SubjectKeys(store)
        await keys.migrate()
        cipher = PersonalDataCipher(default_registry, keys)
        for _ in range(0, SUBJECT_EVENTS, 500):
            events = await cipher.seal(_events(0, 500), stream_id="guest-x", tenant_id="t1")
            await store.append("guest-x", events, tenant_id="t1")
        started = time.perf_counter()
        await Eraser(store, keys).erase_subject("t1", "guest-x")
        return time.perf_counter() - started
    finally:
        await store.close()


async def run(quick: bool) -> dict[str, Any]:
    total = 20_000 if quick else 100_000
    repeats = 3 if quick else 7
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sealed_store = await create_event_store(f"sqlite:///{folder / 'sealed.db'}")
        plain_store = await create_event_store(f"sqlite:///{folder / 'plain.db'}")
        try:
            keys = SubjectKeys(sealed_store)
            await keys.migrate()
            cipher = PersonalDataCipher(default_registry, keys)
            log(f"writing {total} events twice (sealed and plain)")
            await _fill(sealed_store, cipher, total)
            await _fill(plain_store, None, total)
            rates: dict[str, list[float]] = {
                k: [] for k in ("sealed", "plain", "sealed_d", "plain_d")
            }
            # Taken in turns, so drift on a shared machine hits both sides alike.
            for _ in range(repeats):
                rates["sealed"].append(await _read(sealed_store, cipher, decode=False))
                rates["plain"].append(await _read(plain_store, None, decode=False))
                rates["sealed_d"].append(await _read(sealed_store, cipher, decode=True))
                rates["plain_d"].append(await _read(plain_store, None, decode=True))
        finally:
            await sealed_store.close()
            await plain_store.close()
        erase = [
            await _erase_seconds(folder / f"e{i}")
            for i in range(1 if quick else 3)
            if (folder / f"e{i}").mkdir() is None
        ]
    best = {k: statistics.median(v) for k, v in rates.items()}
    return {
        "events": total,
        "sealed_read_eps": round(best["sealed"]),
        "plain_read_eps": round(best["plain"]),
        "read_all_with_personal_fields_ratio": round(best["sealed"] / best["plain"], 3),
        "sealed_decoded_eps": round(best["sealed_d"]),
        "plain_decoded_eps": round(best["plain_d"]),
        "read_all_with_personal_fields_decoded_ratio": round(best["sealed_d"] / best["plain_d"], 3),
        "erase_seconds": round(statistics.median(erase), 4),
        "erase_subject_events": SUBJECT_EVENTS,
        "target_ratio": 0.7,
        "quick": quick,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smaller log; under a minute")
    args = parser.parse_args(argv)
    summary = asyncio.run(run(args.quick))
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
