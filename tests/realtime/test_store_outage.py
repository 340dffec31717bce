"""The event store goes away under a node: every WebSocket ends with 1013 and a reason.

A real ``headwater serve`` on PostgreSQL, its database link through a fault proxy.
With the link refused, clients that are open (subscribed, idle) and clients that
subscribe meanwhile (resuming, so history must be read) all get a close frame with
code 1013 and a reason, and the server never tries an HTTP response on a WebSocket
scope (uvicorn would log an ASGI protocol error). Once the link heals, clients
subscribe again.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from websockets.exceptions import ConnectionClosed

from headwater.testing._fault_proxy import FaultProxy, running_fault_proxy
from headwater.testing._server import RunningServer, serve
from tests.realtime.conftest import ENV, _migrate, server_log
from tests.realtime.support import Client, append, closed_with, unique, ws_client

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.slow]

APPS = ["tests.realtime.app:outage", "tests.realtime.app:appender"]
PORT = 18711
PROTOCOL_ERRORS = ("Expected ASGI message", "Exception in ASGI application", "ASGI callable")


@pytest.fixture(scope="module")
def outage_node(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, FaultProxy]]:
    schema = f"hw_rt_out_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{postgres_server}?schema={schema}"
    _migrate(url)
    workdir = tmp_path_factory.mktemp("realtime-outage")
    try:
        with running_fault_proxy("127.0.0.1", 5432) as proxy:
            proxied = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
            with serve(proxied, workdir=workdir, apps=APPS, env=ENV, port=PORT) as server:
                yield server, proxy
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def _close_of(client: Client, within: float = 20.0) -> tuple[int, str]:
    closed = await closed_with(client, within)
    return closed.code, closed.reason


async def _subscribe_during_outage(server: RunningServer, stream: str) -> tuple[int, str]:
    """A client resuming a stream while the store is down: its history cannot be read."""
    try:
        async with ws_client(server) as client:
            await client.send(type="subscribe", channel=f"stream:{stream}", from_position=0)
            return await _close_of(client)
    except ConnectionClosed as exc:  # closed before (or during) the welcome
        closed = exc.rcvd
    if closed is None:
        return 0, "no close frame"
    return closed.code, closed.reason


async def test_an_unavailable_store_closes_every_socket_with_1013(
    outage_node: tuple[RunningServer, FaultProxy],
) -> None:
    server, proxy = outage_node
    stream = unique("outage")
    await append(server, stream, 2)
    async with contextlib.AsyncExitStack() as stack:
        open_clients = [await stack.enter_async_context(ws_client(server)) for _ in range(20)]
        for client in open_clients:
            await client.subscribe(f"stream:{stream}")
        proxy.refuse()
        try:
            subscribing = [_subscribe_during_outage(server, stream) for _ in range(10)]
            closes = await asyncio.gather(*(_close_of(c) for c in open_clients), *subscribing)
        finally:
            proxy.heal()
    for code, reason in closes:
        assert code == 1013, closes
        assert reason, "a 1013 says why"
    log = server_log(server)
    for marker in PROTOCOL_ERRORS:
        assert marker not in log, f"{marker!r} in the server log:\n{log[-3000:]}"

    # Healed: the node serves clients again, history and live events alike.
    async def subscribed_again() -> None:
        while True:
            try:
                async with ws_client(server) as client:
                    await client.subscribe(f"stream:{stream}", from_position=0)
                    assert len(await client.events(2)) == 2
                    return
            except (ConnectionClosed, AssertionError):
                await asyncio.sleep(0.5)

    await asyncio.wait_for(subscribed_again(), 30)
