"""A writer process for the event-store contract's cross-process tests.

    python -m headwater.testing._writer URL --label a --streams '["s1", "s2"]' \\
        [--tasks 4] [--events 25] [--pause 0] [--max-seconds 30] [--opener module:function]
        [--gate]

Opens the store with ``await function(URL)`` and runs ``--tasks`` concurrent writers,
each appending ``--events`` single-event appends (0: until ``--max-seconds``) to the
streams in turn, pausing ``--pause`` seconds after each. After each ``append``
returns it prints, and flushes,

    ack <event id> <stream id> <version> <position>

so that a parent that kills this process knows exactly which appends were
acknowledged. It prints ``done`` when every writer finished. With ``--gate`` it
prints ``ready`` once the store is open and waits for a line on stdin before
writing, so that a parent can make several writers start at the same moment.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from headwater.eventstore import ANY, EventStore, NewEvent


def load_opener(spec: str) -> Callable[[str], Awaitable[EventStore]]:
    module_name, _, function_name = spec.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    return cast("Callable[[str], Awaitable[EventStore]]", function)


async def write(store: EventStore, args: argparse.Namespace, task: int, deadline: float) -> None:
    stream_ids: list[str] = json.loads(args.streams)
    count = 0
    while (args.events == 0 or count < args.events) and time.monotonic() < deadline:
        stream_id = stream_ids[(task + count) % len(stream_ids)]
        event = NewEvent("Written", {"writer": args.label, "task": task, "n": count})
        result = await store.append(stream_id, [event], expected_version=ANY)
        sys.stdout.write(f"ack {event.id} {stream_id} {result.version} {result.positions[0]}\n")
        sys.stdout.flush()
        count += 1
        if args.pause:
            await asyncio.sleep(args.pause)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m headwater.testing._writer")
    parser.add_argument("url")
    parser.add_argument("--opener", default="headwater.eventstore:create_event_store")
    parser.add_argument("--label", default="writer")
    parser.add_argument("--streams", required=True, help="a JSON list of stream ids")
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--events", type=int, default=25)
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--gate", action="store_true", help="wait for a line on stdin")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.max_seconds
    store = await load_opener(args.opener)(args.url)
    try:
        if args.gate:
            sys.stdout.write("ready\n")
            sys.stdout.flush()
            await asyncio.to_thread(sys.stdin.readline)
        writers: list[Any] = [write(store, args, task, deadline) for task in range(args.tasks)]
        await asyncio.gather(*writers)
    finally:
        await store.close()
    sys.stdout.write("done\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
