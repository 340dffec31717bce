"""A WebSocket client that stops reading gets 4008 with ``resync_from``, not a bare 1011.

The queue of the server used here never fills: only the send timeout can notice the
client. Before it existed, such a client stayed open with frames piling up until the
protocol's keep-alive dropped it with 1011 after about 40 s, telling it nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from headwater.testing._server import RunningServer, serve
from tests.realtime.conftest import ENV
from tests.realtime.support import append, closed_with, positions, unique, ws_client

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def stalling_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    workdir: Path = tmp_path_factory.mktemp("realtime-stalling")
    apps = ["tests.realtime.app:stalling", "tests.realtime.app:appender"]
    with serve(f"sqlite:///{workdir / 'events.db'}", workdir=workdir, apps=apps, env=ENV) as node:
        yield node


async def test_a_client_that_stops_reading_is_closed_with_4008_and_resumes_exactly(
    stalling_node: RunningServer,
) -> None:
    node = stalling_node
    stream = unique("stall")
    channel = f"stream:{stream}"
    written: list[int] = []
    # No client-side keep-alive either: its unanswered pings would end the test early.
    async with ws_client(node, rcvbuf=4096, max_queue=2, ping_interval=None) as slow:
        await slow.subscribe(channel)
        # The client stops reading; a few MB fill the kernel buffers on the way and
        # the server's transport stops taking data.
        for _ in range(6):
            written += await append(node, stream, 250, data={"pad": "x" * 4000})
        stopped = time.monotonic()
        await asyncio.sleep(4)  # longer than the 2 s send timeout, far below 40 s
        closed = await closed_with(slow, within=20)
    assert closed.code == 4008, closed
    assert time.monotonic() - stopped < 30
    resync_from = orjson.loads(closed.reason)["resync_from"]
    got = [m["position"] for m in closed.messages if m["type"] == "event"]
    assert got == written[: len(got)]
    assert resync_from <= got[-1] < written[-1]
    async with ws_client(node) as again:
        await again.subscribe(channel, from_position=resync_from)
        rest = positions(await again.events(len(written) - written.index(resync_from) - 1))
    assert [p for p in got if p <= resync_from] + rest == written
