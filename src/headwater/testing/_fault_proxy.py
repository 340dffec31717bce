"""A fault-injecting TCP proxy for tests: cut, stall, reset and slow a link on loopback.

Put it between a node and its database (``postgresql://...@127.0.0.1:<proxy port>``)
and a test can do to that link what networks do, while the node runs:

* :meth:`FaultProxy.black_hole`: nothing gets through either way, and nothing says
  so (Toxiproxy's ``timeout`` toxic with no timeout; Jepsen's partition);
* :meth:`FaultProxy.drop` one direction: requests arrive but replies never come
  back (or the other way round);
* :meth:`FaultProxy.stall` one direction: bytes wait in the proxy, and are delivered
  in order when the stall ends;
* :meth:`FaultProxy.add_latency`: every chunk is delivered that much later;
* :meth:`FaultProxy.reset`: every open connection is cut with a TCP RST;
* :meth:`FaultProxy.refuse`: the server is down: open connections are reset and
  new ones refused;
* :meth:`FaultProxy.heal`: back to a clean link (bytes dropped meanwhile stay lost,
  as on a real network after a connection's retransmissions gave up).

Faults apply to the links open now and to those opened later; each :class:`Link`
(one client connection) also takes faults of its own, so a test can silence exactly
one connection, e.g. a node's LISTEN connection, found by the port PostgreSQL shows
in ``pg_stat_activity.client_port`` (:meth:`FaultProxy.link_for_upstream_port`).

Written by hand (about 300 lines of asyncio) because Toxiproxy is a Go server to
download and run, and the Python packages for it are only its API clients; nothing
on PyPI injects these faults in-process. Loopback only: it listens on 127.0.0.1 and
forwards only to a loopback address, so it can never become a relay.

The proxy runs on its own event loop in a thread (:func:`running_fault_proxy`), so it
keeps forwarding while a test blocks (starting a server, say); every control method
is safe to call from any thread and returns once the fault is in effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal, TypeVar

T = TypeVar("T")

#: ``upstream``: from the client to the server (requests); ``downstream``: replies.
Direction = Literal["upstream", "downstream"]
DIRECTIONS: Final[tuple[Direction, Direction]] = ("upstream", "downstream")
_CHUNK: Final = 65536
#: Chunks held per direction (latency, stall) before the proxy stops reading, so a
#: slow link pushes back on its sender instead of buffering without end.
_QUEUE_CHUNKS: Final = 256


@dataclass
class Faults:
    """What one link (or the proxy, for links to come) does to the bytes it carries."""

    dropping: set[Direction] = field(default_factory=set)
    stalled: set[Direction] = field(default_factory=set)
    latency: dict[Direction, float] = field(default_factory=dict)

    def copy(self) -> Faults:
        return Faults(set(self.dropping), set(self.stalled), dict(self.latency))


def _directions(direction: Direction | None) -> tuple[Direction, ...]:
    if direction is None:
        return DIRECTIONS
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'upstream' or 'downstream', not {direction!r}")
    return (direction,)


def _require_loopback(host: str) -> None:
    try:
        loopback = ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        loopback = False
    if not loopback:
        raise ValueError(f"the fault proxy forwards to loopback addresses only, not {host!r}")


class _Controls:
    """The fault methods that a proxy and a link share."""

    def _change(self, change: Callable[[Faults], None]) -> None:
        raise NotImplementedError

    def black_hole(self) -> None:
        """Nothing gets through, either way; the connections stay open and silent."""
        self._change(lambda f: f.dropping.update(DIRECTIONS))

    def drop(self, direction: Direction) -> None:
        """Discard every byte going ``direction`` (``"downstream"``: replies)."""
        self._change(lambda f: f.dropping.update(_directions(direction)))

    def stall(self, direction: Direction | None = None) -> None:
        """Hold every byte going ``direction`` (both if None) until the stall ends."""
        self._change(lambda f: f.stalled.update(_directions(direction)))

    def add_latency(self, seconds: float, direction: Direction | None = None) -> None:
        """Deliver every chunk ``seconds`` later (in each direction, if None)."""
        if seconds < 0:
            raise ValueError("latency cannot be negative")

        def change(f: Faults) -> None:
            for d in _directions(direction):
                f.latency[d] = seconds

        self._change(change)

    def heal(self) -> None:
        """A clean link again: no drops, stalls or latency."""

        def change(f: Faults) -> None:
            f.dropping.clear()
            f.stalled.clear()
            f.latency.clear()

        self._change(change)


class Link(_Controls):
    """One client connection through the proxy, and its connection to the server."""

    def __init__(
        self,
        proxy: FaultProxy,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        faults: Faults,
    ) -> None:
        self._proxy = proxy
        self._client = client
        self._upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.faults = faults
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        peer = client[1].get_extra_info("peername")
        #: The client's port, as the proxy sees it.
        self.client_port: int = peer[1] if peer else 0
        #: The proxy's own port towards the server: what the server sees as the
        #: client's (PostgreSQL's ``pg_stat_activity.client_port``).
        self.upstream_port: int = 0
        self.closed = False
        #: Bytes forwarded, per direction.
        self.forwarded: dict[Direction, int] = {"upstream": 0, "downstream": 0}

    def _change(self, change: Callable[[Faults], None]) -> None:
        self._proxy._call(lambda: self._apply(change))

    def _apply(self, change: Callable[[Faults], None]) -> None:
        change(self.faults)
        self._changed.set()

    def reset(self) -> None:
        """Cut this connection with a TCP RST on both sides."""
        self._proxy._call(self._reset)

    # --- running on the proxy's loop ---------------------------------------------------

    async def run(self) -> None:
        try:
            self._upstream = await asyncio.open_connection(*self._proxy.upstream)
        except OSError:
            self._reset()  # the server refused: so does the proxy
            return
        if self.closed:  # reset while connecting
            self._upstream[1].transport.abort()
            return
        self.upstream_port = self._upstream[1].get_extra_info("sockname")[1]
        client_reader, client_writer = self._client
        server_reader, server_writer = self._upstream
        self._tasks = [
            asyncio.create_task(self._pump("upstream", client_reader, server_writer)),
            asyncio.create_task(self._pump("downstream", server_reader, client_writer)),
        ]
        # Either side closing ends the link: half-open PostgreSQL connections are no use.
        await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        self._close()

    async def _wait_change(self) -> None:
        self._changed.clear()
        await self._changed.wait()

    async def _pump(
        self, direction: Direction, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Read, apply the faults, and hand to the delivery task (which keeps the order
        and the latency, so latency delays each chunk without slowing the stream)."""
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(_QUEUE_CHUNKS)
        deliver = asyncio.create_task(self._deliver(direction, queue, writer))
        loop = asyncio.get_running_loop()
        try:
            while True:
                while direction in self.faults.stalled:
                    await self._wait_change()
                try:
                    data = await reader.read(_CHUNK)
                except OSError:
                    data = b""
                if not data:
                    break
                while direction in self.faults.stalled:  # began while we were reading
                    await self._wait_change()
                if direction in self.faults.dropping:
                    continue
                due = loop.time() + self.faults.latency.get(direction, 0.0)
                await queue.put((due, data))
            await queue.put(None)
            await deliver
        finally:
            deliver.cancel()

    async def _deliver(
        self,
        direction: Direction,
        queue: asyncio.Queue[tuple[float, bytes] | None],
        writer: asyncio.StreamWriter,
    ) -> None:
        loop = asyncio.get_running_loop()
        while (item := await queue.get()) is not None:
            due, data = item
            if (delay := due - loop.time()) > 0:
                await asyncio.sleep(delay)
            try:
                writer.write(data)
                await writer.drain()
            except OSError:
                return
            self.forwarded[direction] += len(data)

    def _writers(self) -> list[asyncio.StreamWriter]:
        writers = [self._client[1]]
        if self._upstream is not None:
            writers.append(self._upstream[1])
        return writers

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in self._tasks:
            task.cancel()
        for writer in self._writers():
            writer.close()
        self._proxy._forget(self)

    def _reset(self) -> None:
        for writer in self._writers():
            sock = writer.get_extra_info("socket")
            if sock is not None:
                # Linger on, for zero seconds: close() then sends RST, not FIN.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        self._close()


class FaultProxy(_Controls):
    """A TCP proxy from ``127.0.0.1:<port>`` to a loopback ``upstream``, with faults.

    Start it with :func:`running_fault_proxy` (its own thread and loop), or
    ``await start()`` on a loop that stays free to run it.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        _require_loopback(upstream_host)
        self.upstream = (upstream_host, upstream_port)
        self.faults = Faults()
        self._links: list[Link] = []
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._link_tasks: set[asyncio.Task[None]] = set()
        #: Connections accepted since the start.
        self.accepted = 0
        self._refusing = False
        self.port = 0

    @property
    def host(self) -> str:
        return "127.0.0.1"

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link._close()
        # Closed links end their tasks; only one still connecting upstream needs a
        # cancellation (which _accept takes quietly).
        if self._link_tasks:
            await asyncio.wait(self._link_tasks, timeout=1)
        for task in list(self._link_tasks):
            task.cancel()
        if self._link_tasks:
            await asyncio.wait(self._link_tasks)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = Link(self, (reader, writer), self.faults.copy())
        if self._refusing:
            link._reset()  # as near to "connection refused" as an accepted socket gets
            return
        self.accepted += 1
        self._links.append(link)
        task = asyncio.current_task()
        assert task is not None
        self._link_tasks.add(task)
        try:
            await link.run()
        except asyncio.CancelledError:
            pass  # stopping: asyncio's stream server logs a cancelled handler as an error
        finally:
            link._close()
            self._link_tasks.discard(task)

    def _forget(self, link: Link) -> None:
        with contextlib.suppress(ValueError):
            self._links.remove(link)

    # --- control, from any thread --------------------------------------------------

    def _call(self, action: Callable[[], T]) -> T:
        """Run ``action`` on the proxy's loop and return its result once it has run."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the fault proxy is not started")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            return action()

        async def run() -> T:
            return action()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=10)

    def _change(self, change: Callable[[Faults], None]) -> None:
        def apply() -> None:
            change(self.faults)
            for link in self._links:
                link._apply(change)

        self._call(apply)

    def reset(self) -> None:
        """Cut every open connection with a TCP RST (new ones are accepted)."""

        def apply() -> None:
            for link in list(self._links):
                link._reset()

        self._call(apply)

    def refuse(self) -> None:
        """The server is down: reset every open connection and refuse new ones
        until :meth:`heal`."""

        def apply() -> None:
            self._refusing = True
            for link in list(self._links):
                link._reset()

        self._call(apply)

    def heal(self) -> None:
        def apply() -> None:
            self._refusing = False

        self._call(apply)
        super().heal()

    @property
    def links(self) -> list[Link]:
        """The open links, oldest first."""
        return self._call(lambda: list(self._links))

    def link_for_upstream_port(self, port: int) -> Link:
        """The open link whose connection to the server leaves from ``port``."""
        for link in self.links:
            if link.upstream_port == port:
                return link
        raise LookupError(f"no open link leaves from port {port}")


@contextlib.contextmanager
def running_fault_proxy(upstream_host: str, upstream_port: int) -> Iterator[FaultProxy]:
    """A :class:`FaultProxy` forwarding on its own loop in a daemon thread."""
    proxy = FaultProxy(upstream_host, upstream_port)
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(proxy.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name=f"fault-proxy-{upstream_port}", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the fault proxy did not start")
    try:
        yield proxy
    finally:
        asyncio.run_coroutine_threadsafe(proxy.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
