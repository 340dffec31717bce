"""A subscribe storm on PostgreSQL: 10,000 clients, the default pool, HTTP still answers.

Every client resumes a stream channel from position 0, so each subscribe needs a
history read from the store. Those reads share a node-wide semaphore
(``subscribe_store_reads``), so the storm holds at most that many of the pool's ten
connections: every subscription is acknowledged, no pool wait times out, and HTTP
requests made during the storm (``/readyz``, which reads the store through a pool
connection of its own) answer within a second. (Not appends: a commit's fsync on this
shared disk alone spikes past a second now and then, which is not what is tested.)

The clients are lean (websockets' sans-I/O protocol on a bare asyncio protocol, no
task per connection) and spread over many 127.x source addresses so that the test
never runs out of ephemeral ports on a machine other tests share.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from headwater.testing._server import RunningServer, serve
from tests.realtime.conftest import ENV, _migrate, server_log
from tests.realtime.support import append

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.slow]

APPS = ["tests.realtime.app:storm", "tests.realtime.app:appender"]
PORT = 18712
CLIENTS = 10_000
STREAMS = 100
#: The storm must be over within this much of the server's CPU time: what a node with
#: a core of its own takes in wall time. The wall time is printed; on this shared
#: machine (2 cores, load 8-11 from other work) it is 2-4 times longer.
SERVER_CPU_WITHIN = 30.0
#: ... and within this wall time however loaded the machine (the test's own budget:
#: about 30 s on an idle machine, 2-3 minutes at a load of 15 on 2 cores).
WALL_WITHIN = 150.0
#: Source addresses the clients connect from (each has its own ephemeral ports).
SOURCES = [f"127.0.{n}.{m}" for n in (24, 25) for m in range(1, 11)]


@pytest.fixture(scope="module")
def storm_node(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    schema = f"hw_rt_storm_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{postgres_server}?schema={schema}"
    _migrate(url)
    workdir = tmp_path_factory.mktemp("realtime-storm")
    try:
        with serve(url, workdir=workdir, apps=APPS, env=ENV, port=PORT) as server:
            yield server
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class StormClient(asyncio.Protocol):
    """Connect, authenticate, subscribe from 0; resolve ``acked`` on ``subscribed``."""

    def __init__(self, uri: str, channel: str, on_event: Callable[[], None]) -> None:
        self.on_event = on_event
        self.protocol = ClientProtocol(parse_uri(uri), max_size=2**20)
        self.channel = channel
        self.acked: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.errors: list[dict[str, Any]] = []
        self.events = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.protocol.send_request(self.protocol.connect())
        self._flush()

    def _flush(self) -> None:
        assert self.transport is not None
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.transport.write(chunk)

    def _send(self, **message: Any) -> None:
        self.protocol.send_text(orjson.dumps(message))

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                self._send(type="auth", token="alice-token")
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                message = orjson.loads(event.data)
                kind = message["type"]
                if kind == "welcome":
                    self._send(type="subscribe", channel=self.channel, from_position=0)
                elif kind == "subscribed" and not self.acked.done():
                    self.acked.set_result(message)
                elif kind == "event":
                    self.events += 1
                    self.on_event()
                elif kind == "error":
                    self.errors.append(message)
            elif isinstance(event, Frame) and event.opcode is Opcode.CLOSE:
                self._fail(f"closed: {event.data!r}")
        self._flush()

    def _fail(self, why: str) -> None:
        if not self.acked.done():
            self.acked.set_exception(ConnectionError(why))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"lost: {exc!r}")


async def test_ten_thousand_subscribes_keep_the_pool_and_http_answering(
    storm_node: RunningServer,
) -> None:
    server = storm_node
    prefix = f"storm{uuid.uuid4().hex[:6]}"
    for n in range(STREAMS):
        await append(server, f"{prefix}-{n}", 2)
    loop = asyncio.get_running_loop()
    uri = f"{server.ws_url}/realtime/ws"
    # Handshakes in flight: few enough that one turn of the server's loop (which serves
    # every ready handshake before an HTTP request waiting behind them) stays short.
    gate = asyncio.Semaphore(32)
    clients: list[StormClient] = []
    http_seconds: list[float] = []
    storming = True
    all_events = asyncio.Event()
    received = [0]

    def counted() -> None:
        received[0] += 1
        if received[0] >= 2 * CLIENTS:
            all_events.set()

    async def one(n: int) -> None:
        client = StormClient(uri, f"stream:{prefix}-{n % STREAMS}", counted)
        clients.append(client)
        async with gate:
            await loop.create_connection(
                lambda: client,
                "127.0.0.1",
                server.port,
                local_addr=(SOURCES[n % len(SOURCES)], 0),
            )
            await client.acked

    async def http_during_storm(http: httpx.AsyncClient) -> None:
        while storming:
            started = time.monotonic()
            response = await http.get("/readyz")
            http_seconds.append(time.monotonic() - started)
            assert response.status_code == 200, response.text
            await asyncio.sleep(0.2)

    started = time.monotonic()
    server_cpu = _cpu(server.process.pid)
    own_cpu = time.process_time()
    # The clients' own collector would walk 10,000 clients' parsers again and again:
    # what is measured is the server, so the test process keeps its objects frozen.
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, 10, 1_000_000_000)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        prober = asyncio.create_task(http_during_storm(http))
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*(one(n) for n in range(CLIENTS)), return_exceptions=True),
                WALL_WITHIN,
            )
        finally:
            storming = False
            gc.set_threshold(*thresholds)
            gc.unfreeze()
        took = time.monotonic() - started
        server_cpu = _cpu(server.process.pid) - server_cpu
        own_cpu = time.process_time() - own_cpu
        await prober
        # Every client got its history (two events) once the storm was over.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_events.wait(), 30)
        events = sum(c.events for c in clients)
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    failures = [r for r in results if isinstance(r, BaseException)]
    errors = [e for c in clients for e in c.errors]
    print(
        f"\n{CLIENTS} subscribes in {took:.1f} s; HTTP during the storm: "
        f"{len(http_seconds)} requests, max {max(http_seconds) * 1000:.0f} ms; "
        f"CPU: server {server_cpu:.1f} s, clients {own_cpu:.1f} s"
    )
    assert not failures, f"{len(failures)} clients failed, e.g. {failures[:3]}"
    assert not errors, errors[:5]
    assert server_cpu < SERVER_CPU_WITHIN, f"the storm took {server_cpu:.1f} s of server CPU"
    assert events == 2 * CLIENTS
    assert http_seconds
    assert max(http_seconds) < 1.0, sorted(http_seconds)[-5:]
    log = server_log(server).lower()
    assert "pooltimeout" not in log
    assert "pool" not in log, "a pool wait was logged"
