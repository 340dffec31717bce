"""The fault proxy does to a link what networks do, and nothing else."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest

from headwater.errors import CallTimeout
from headwater.eventstore._deadline import bounded
from headwater.testing._fault_proxy import FaultProxy, running_fault_proxy

pytestmark = pytest.mark.anyio


class EchoServer:
    """Echoes every byte back, and keeps what it received."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                self.received += data
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    server = EchoServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def proxy(echo: EchoServer) -> AsyncIterator[FaultProxy]:
    found = FaultProxy("127.0.0.1", echo.port)
    await found.start()
    yield found
    await found.stop()


async def connect(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", proxy.port)


async def read_exactly(reader: asyncio.StreamReader, count: int, within: float = 2.0) -> bytes:
    return await asyncio.wait_for(reader.readexactly(count), within)


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> bytes:
    writer.write(data)
    await writer.drain()
    return await read_exactly(reader, len(data))


async def until(condition: object, within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_clean_link_forwards_both_ways_and_counts_the_bytes(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    reader, writer = await connect(proxy)
    writer.write(b"hello")
    assert await read_exactly(reader, 5) == b"hello"
    (link,) = proxy.links
    assert link.forwarded == {"upstream": 5, "downstream": 5}
    assert link.upstream_port != 0
    writer.close()


async def test_a_black_hole_passes_nothing_either_way_and_keeps_connections_open(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    reader, writer = await connect(proxy)
    writer.write(b"a")
    assert await read_exactly(reader, 1) == b"a"
    proxy.black_hole()
    writer.write(b"lost")
    with pytest.raises(TimeoutError):
        await read_exactly(reader, 1, within=0.3)
    assert bytes(echo.received) == b"a"  # the request never reached the server
    assert not reader.at_eof()
    # A connection opened during the black hole is accepted, and silent too.
    late_reader, late_writer = await connect(proxy)
    late_writer.write(b"x")
    with pytest.raises(TimeoutError):
        await read_exactly(late_reader, 1, within=0.3)
    proxy.heal()
    writer.write(b"back")
    assert await read_exactly(reader, 4) == b"back"
    writer.close()
    late_writer.close()


async def test_dropped_replies_reach_the_server_but_never_come_back(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    reader, writer = await connect(proxy)
    proxy.drop("downstream")
    writer.write(b"request")
    await until(lambda: bytes(echo.received) == b"request")
    with pytest.raises(TimeoutError):
        await read_exactly(reader, 1, within=0.3)
    proxy.heal()
    writer.write(b"again")
    assert await read_exactly(reader, 5) == b"again"
    writer.close()


async def test_a_stall_holds_bytes_and_delivers_them_in_order_when_it_ends(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    reader, writer = await connect(proxy)
    proxy.stall("upstream")
    for part in (b"one,", b"two,", b"three"):
        writer.write(part)
        await writer.drain()
    await asyncio.sleep(0.2)
    assert bytes(echo.received) == b""
    proxy.heal()
    assert await read_exactly(reader, 13) == b"one,two,three"
    writer.close()


async def test_latency_delays_every_chunk_by_at_least_the_amount_each_way(
    proxy: FaultProxy,
) -> None:
    reader, writer = await connect(proxy)
    proxy.add_latency(0.1)
    started = time.monotonic()
    writer.write(b"ping")
    assert await read_exactly(reader, 4) == b"ping"
    assert time.monotonic() - started >= 0.2  # 0.1 s there, 0.1 s back
    proxy.heal()
    writer.close()


async def test_reset_cuts_open_connections_with_an_rst_and_accepts_new_ones(
    proxy: FaultProxy,
) -> None:
    reader, writer = await connect(proxy)
    writer.write(b"a")
    await read_exactly(reader, 1)
    proxy.reset()
    with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
        await exchange(reader, writer, b"b")
    again_reader, again_writer = await connect(proxy)
    again_writer.write(b"c")
    assert await read_exactly(again_reader, 1) == b"c"
    again_writer.close()


async def test_refuse_resets_open_connections_and_new_ones_until_healed(
    proxy: FaultProxy,
) -> None:
    _reader, writer = await connect(proxy)
    proxy.refuse()
    late_reader, late_writer = await connect(proxy)
    with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
        await exchange(late_reader, late_writer, b"x")
    proxy.heal()
    healed_reader, healed_writer = await connect(proxy)
    healed_writer.write(b"y")
    assert await read_exactly(healed_reader, 1) == b"y"
    for w in (writer, late_writer, healed_writer):
        w.close()


async def test_a_fault_on_one_link_leaves_the_others_alone(
    proxy: FaultProxy,
) -> None:
    first_reader, first_writer = await connect(proxy)
    second_reader, second_writer = await connect(proxy)
    first_writer.write(b"1")
    second_writer.write(b"2")
    await read_exactly(first_reader, 1)
    await read_exactly(second_reader, 1)
    _first, second = proxy.links
    assert proxy.link_for_upstream_port(second.upstream_port) is second
    second.black_hole()
    first_writer.write(b"3")
    second_writer.write(b"4")
    assert await read_exactly(first_reader, 1) == b"3"
    with pytest.raises(TimeoutError):
        await read_exactly(second_reader, 1, within=0.3)
    # A new connection does not inherit one link's fault.
    third_reader, third_writer = await connect(proxy)
    third_writer.write(b"5")
    assert await read_exactly(third_reader, 1) == b"5"
    for w in (first_writer, second_writer, third_writer):
        w.close()


def test_the_proxy_forwards_only_to_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy("192.0.2.1", 5432)


@pytest.fixture
def threaded_echo() -> Iterator[int]:
    """A blocking echo server on its own thread, for the threaded proxy."""
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join(2)
    listener.close()


def test_a_threaded_proxy_is_controlled_from_blocking_code(threaded_echo: int) -> None:
    with (
        running_fault_proxy("127.0.0.1", threaded_echo) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port), timeout=2) as sock,
    ):
        sock.sendall(b"hi")
        assert sock.recv(2) == b"hi"
        proxy.black_hole()
        sock.sendall(b"lost")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(1)
        proxy.heal()
        sock.settimeout(2)
        sock.sendall(b"ok")
        assert sock.recv(2) == b"ok"


@pytest.mark.postgres
async def test_with_replies_dropped_postgresql_runs_the_statement_but_the_client_hears_nothing(
    postgres_server: str,
) -> None:
    proxy = FaultProxy("127.0.0.1", 5432)
    await proxy.start()
    url = postgres_server.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            cursor = await conn.execute(
                "SELECT client_port FROM pg_stat_activity WHERE pid = pg_backend_pid()"
            )
            row = await cursor.fetchone()
            assert row is not None
            assert proxy.link_for_upstream_port(row[0]) is proxy.links[0]
            proxy.drop("downstream")
            with pytest.raises(CallTimeout):
                await bounded(
                    conn.execute("SELECT set_config('application_name', 'heard', false)"),
                    0.5,
                    "query",
                )
        async with await psycopg.AsyncConnection.connect(postgres_server) as direct:
            cursor = await direct.execute(
                "SELECT application_name FROM pg_stat_activity WHERE client_port = %s", (row[0],)
            )
            # The server ran it (or the backend is already gone with its connection).
            assert (await cursor.fetchall()) in ([("heard",)], [])
    finally:
        await proxy.stop()
