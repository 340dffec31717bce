"""Fan-out: Headwater's full realtime path against a bare ``websockets`` broadcast server.

Run: ``python benchmarks/realtime.py [--quick] [--clients N]``. Progress goes to
stderr; the last line of stdout is one JSON object.

Both servers run at once, each in its own process, and the same client processes
hold N WebSocket connections to each (2 cores: the clients share the machine).

* Headwater: a real ``headwater serve`` (uvicorn, its default WebSocket implementation,
  uvloop) on the embedded default store (SQLite, ``synchronous=FULL``). A message is
  appended through ``POST /_test/append`` (HTTP, validation, commit with fsync); the
  hub reads it from the store and pushes it to the N connections, each authenticated
  and subscribed to ``stream:bench``. Every message is one stored event. The SQLite
  file lives on tmpfs by default (``--store-dir`` to change it): on a shared disk an
  fsync takes 8 ms at the median and spikes past a second, which would measure the
  neighbours' I/O rather than fan-out; ``headwater_append_*`` report the append.
* Baseline: ``websockets.asyncio.server`` on uvloop; a publisher connection sends a
  message and the server calls ``websockets.broadcast`` to its N connections. The
  message is a pre-built copy of Headwater's frame (same fields, same size).

Rounds alternate between the sides. ``latency``: one message at a time, the next once
every client has the previous one; latency = client receive time - publish start,
over every delivery (clocks: CLOCK_MONOTONIC, shared by the processes). ``throughput``:
a burst of M messages (Headwater: one append of M events; baseline: M frames back to
back); deliveries per second = N*M / (last delivery - publish start).
``kb_per_idle_connection``: the server's RSS growth per connection once N are
connected, authenticated, subscribed and idle. Clients use the websockets sans-I/O
``ClientProtocol`` on a bare asyncio protocol, so client overhead (the same for
both sides) stays small next to what the servers do.

Diagnostics: ``BENCH_DEBUG=1`` logs every latency message (publish time, slowest
delivery); ``BENCH_GC_PROBE=1`` makes both servers log garbage collections over 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any, Final

sys.path.append(str(Path(__file__).resolve().parent))  # _common, also when imported

import httpx
import orjson
import uvloop
from _common import emit_summary, log
from fastapi import APIRouter
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import broadcast
from websockets.asyncio.server import serve as ws_serve
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from headwater.modules import Module
from headwater.realtime import RealtimeConfig, RealtimeModule
from headwater.testing._realtime import authenticator
from headwater.testing._server import RunningServer, free_port, serve

REPO: Final = Path(__file__).resolve().parent.parent
TOKEN: Final = "alice-token"
CHANNEL: Final = "stream:bench"
TARGETS: Final = {"fanout_p99_ratio": 1.5, "fanout_throughput_ratio": 0.7}
#: tmpfs when there is one: fsync is then free, so the figure is the fan-out path and
#: not the latency of a disk other processes share (measured: 8 ms median, 1.5 s spikes).
DEFAULT_STORE_DIR: Final = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
KB_TARGET: Final = 40.0

#: What the Headwater node serves: the realtime module on the static test tokens, with
#: timeouts long enough that idle benchmark clients need not ping.
server_app = RealtimeModule(authenticator, config=RealtimeConfig(idle_timeout=3600.0))


_gc_started = [0.0]


def _gc_probe(phase: str, info: dict[str, Any]) -> None:
    """Log collections over 20 ms (to stderr: the server log). Diagnostics only."""
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    elif (spent := time.perf_counter() - _gc_started[0]) > 0.02:
        print(
            f"GC gen{info['generation']} at {time.monotonic():.2f} took {spent * 1000:.0f} ms",
            file=sys.stderr,
            flush=True,
        )


if os.environ.get("BENCH_GC_PROBE"):
    gc.callbacks.append(_gc_probe)


class Probes:
    """What a server's own process sees during the scale step, read over HTTP/WS:
    event-loop lag (a 10 ms timer's lateness) and collector pauses (``gc.callbacks``).

    The same code runs in both servers, so the figures compare like with like."""

    TICK: Final = 0.01

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.gc_pauses: list[float] = []
        self.gc_max_by_generation = [0.0, 0.0, 0.0]
        #: The same pauses in the process's CPU time: on a loaded machine a collection
        #: descheduled halfway looks long in wall time; this is what it cost itself.
        self.gc_cpu_pauses: list[float] = []
        self._gc_started = 0.0
        self._gc_cpu_started = 0.0
        gc.callbacks.append(self._gc)

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
            self._gc_cpu_started = time.thread_time()
        else:
            self.gc_cpu_pauses.append(time.thread_time() - self._gc_cpu_started)
            pause = time.perf_counter() - self._gc_started
            self.gc_pauses.append(pause)
            generation = info["generation"]
            self.gc_max_by_generation[generation] = max(
                self.gc_max_by_generation[generation], pause
            )

    async def run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.TICK)
            self.lags.append(time.perf_counter() - started - self.TICK)

    def read(self, reset: bool) -> dict[str, Any]:
        lags = sorted(self.lags)
        figures = {
            "lag_p99_ms": round(lags[int(0.99 * (len(lags) - 1))] * 1000, 2) if lags else None,
            "lag_max_ms": round(lags[-1] * 1000, 2) if lags else None,
            "gc_pause_max_ms": round(max(self.gc_pauses, default=0.0) * 1000, 2),
            "gc_collections": len(self.gc_pauses),
            "gc_pause_max_cpu_ms": round(max(self.gc_cpu_pauses, default=0.0) * 1000, 2),
            "gc_pause_max_ms_by_generation": [
                round(p * 1000, 2) for p in self.gc_max_by_generation
            ],
        }
        if reset:
            self.lags, self.gc_pauses, self.gc_cpu_pauses = [], [], []
            self.gc_max_by_generation = [0.0, 0.0, 0.0]
        return figures


class ProbeModule(Module):
    """``GET /_bench/probes?reset=1`` on the Headwater node (benchmarks only)."""

    name = "bench-probes"

    def __init__(self) -> None:
        self.probes: Probes | None = None
        self._task: asyncio.Task[None] | None = None
        self._mark: tracemalloc.Snapshot | None = None

    async def start(self, runtime: Any) -> None:
        self.probes = Probes()
        self._task = asyncio.create_task(self.probes.run())

    async def stop(self, runtime: Any) -> None:
        if self._task is not None:
            self._task.cancel()

    def routers(self) -> list[APIRouter]:
        router = APIRouter()

        @router.get("/_bench/probes")
        async def probes(reset: bool = False) -> dict[str, Any]:
            assert self.probes is not None
            return self.probes.read(reset)

        @router.get("/_bench/memory")
        async def memory(mark: bool = False) -> list[str]:
            """Diagnostics (``python -X tracemalloc``): allocations since the last mark."""
            if not tracemalloc.is_tracing():
                return []
            snapshot = tracemalloc.take_snapshot()
            if mark or self._mark is None:
                self._mark = snapshot
                return []
            stats = snapshot.compare_to(self._mark, "lineno")
            return [str(stat) for stat in stats[:40]]

        return [router]


probe_app = ProbeModule()


# --- the baseline server ------------------------------------------------------------


def bare_server_main(port: int, ready: Any) -> None:
    async def main() -> None:
        subscribers: set[Any] = set()
        probes = Probes()
        probing = asyncio.create_task(probes.run())

        async def handler(ws: Any) -> None:
            if ws.request.path == "/publish":
                async for message in ws:
                    broadcast(subscribers, message)
                return
            if ws.request.path.startswith("/probes"):
                await ws.send(orjson.dumps(probes.read("reset" in ws.request.path)).decode())
                return
            subscribers.add(ws)
            try:
                await ws.wait_closed()
            finally:
                subscribers.discard(ws)

        async with ws_serve(handler, "127.0.0.1", port, compression=None, backlog=4096):
            ready.set()
            await asyncio.Future()
        probing.cancel()

    uvloop.run(main())


# --- the client processes -----------------------------------------------------------


class BenchClient(asyncio.Protocol):
    """One lean WebSocket client: websockets' sans-I/O protocol, no tasks, no queues."""

    def __init__(self, worker: Worker, side: str, uri: str) -> None:
        self.worker = worker
        self.side = side
        self.protocol = ClientProtocol(parse_uri(uri), max_size=2**22)
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.live = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        self.protocol.send_request(self.protocol.connect())
        self.flush()

    def flush(self) -> None:
        assert self.transport is not None
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.transport.write(chunk)

    def send(self, **message: Any) -> None:
        self.protocol.send_text(orjson.dumps(message))
        self.flush()

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                if self.side == "headwater":
                    self.send(type="auth", token=TOKEN)
                else:
                    self._go_live()
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self.on_text(event.data)
        self.flush()  # pongs to the server's pings

    def on_text(self, data: bytes | bytearray | memoryview) -> None:
        now = time.monotonic()
        message = orjson.loads(data)
        kind = message.get("type")
        if kind == "event":
            payload = message["event"]["data"]
            self.worker.received(self.side, payload["seq"] + payload["n"], payload["t"], now)
        elif kind == "welcome":
            self.send(type="subscribe", channel=CHANNEL)
        elif kind == "subscribed":
            self._go_live()
        elif kind == "error":
            self.ready.set_exception(RuntimeError(f"server refused: {message}"))

    def _go_live(self) -> None:
        self.live = True
        if not self.ready.done():
            self.ready.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"lost before ready: {exc}"))
        elif self.live:
            self.worker.lost += 1


class Worker:
    """Holds one share of the connections of each side; answers the driver's commands."""

    def __init__(
        self, pipe: Pipe, urls: dict[str, str], count: int, source: str | None = None
    ) -> None:
        self.pipe = pipe
        self.urls = urls
        self.count = count
        #: The 127.x.y.z this process connects from: its own 28,000 ephemeral ports.
        self.source = source
        self.clients: dict[str, list[BenchClient]] = {side: [] for side in urls}
        self.lost = 0
        self._window: tuple[str, int, int, bool] | None = None
        self._expected = 0
        self._got = 0
        self._latencies: list[float] = []

    async def connect(self, side: str) -> None:
        loop = asyncio.get_running_loop()
        uri = parse_uri(self.urls[side])
        gate = asyncio.Semaphore(64)

        async def one() -> BenchClient:
            async with gate:
                _, client = await loop.create_connection(
                    lambda: BenchClient(self, side, self.urls[side]),
                    uri.host,
                    uri.port,
                    local_addr=(self.source, 0) if self.source else None,
                )
                await asyncio.wait_for(client.ready, 60)
                return client

        self.clients[side] = list(await asyncio.gather(*(one() for _ in range(self.count))))

    def expect(self, side: str, first: int, count: int, record: bool) -> None:
        self._window = (side, first, first + count, record)
        self._expected = len(self.clients[side]) * count
        self._got = 0
        self._latencies = []

    def received(self, side: str, seq: int, sent: float, now: float) -> None:
        window = self._window
        if window is None or side != window[0] or not window[1] <= seq < window[2]:
            return
        self._got += 1
        if window[3]:
            self._latencies.append(now - sent)
        if self._got == self._expected:
            self._window = None
            self.pipe.send(("done", now, self._latencies))

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        commands: asyncio.Queue[Any] = asyncio.Queue()
        loop.add_reader(self.pipe.fileno(), lambda: commands.put_nowait(self.pipe.recv()))
        while True:
            command, *args = await commands.get()
            if command == "connect":
                try:
                    await self.connect(*args)
                    gc.collect()
                    gc.freeze()  # a million long-lived objects: keep the collector off them
                    self.pipe.send(("ok", len(self.clients[args[0]])))
                except Exception as exc:
                    self.pipe.send(("error", repr(exc)))
            elif command == "drop":
                for client in self.clients[args[0]]:
                    client.live = False  # not a lost connection: closed on purpose
                    if client.transport is not None:
                        client.transport.close()
                self.clients[args[0]] = []
                gc.unfreeze()
                gc.collect()
                self.pipe.send(("ok", None))
            elif command == "expect":
                self.expect(*args)
                self.pipe.send(("ok", None))
            elif command == "stop":
                for clients in self.clients.values():
                    for client in clients:
                        if client.transport is not None:
                            client.transport.close()
                self.pipe.send(("ok", self.lost))
                return


def worker_main(pipe: Pipe, urls: dict[str, str], count: int, source: str | None = None) -> None:
    raise_open_files()
    uvloop.run(Worker(pipe, urls, count, source).serve())


# --- the driver -----------------------------------------------------------------------


def raise_open_files() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Workers:
    def __init__(self, pipes: list[Pipe]) -> None:
        self.pipes = pipes

    async def ask(self, *command: Any) -> list[Any]:
        for pipe in self.pipes:
            pipe.send(command)
        return await asyncio.gather(*(self._reply(pipe) for pipe in self.pipes))

    async def replies(self) -> list[Any]:
        return await asyncio.gather(*(self._reply(pipe) for pipe in self.pipes))

    @staticmethod
    async def _reply(pipe: Pipe) -> Any:
        loop = asyncio.get_running_loop()
        while not pipe.poll():
            ready = loop.create_future()
            loop.add_reader(pipe.fileno(), _wake, ready)
            try:
                await ready
            finally:
                loop.remove_reader(pipe.fileno())
        status, *rest = pipe.recv()
        if status == "error":
            raise RuntimeError(f"worker failed: {rest[0]}")
        return rest[0] if len(rest) == 1 else rest


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


class Publishers:
    """How each side gets a message in: Headwater by append, the baseline by a frame."""

    def __init__(self, http: httpx.AsyncClient, bare: Any) -> None:
        self.http = http
        self.bare = bare
        self.version = 0

    async def publish(self, side: str, seq: int, count: int) -> float:
        started = time.monotonic()
        if side == "headwater":
            response = await self.http.post(
                "/_test/append",
                json={
                    "stream_id": "bench",
                    "type": "Tick",
                    "data": {"t": started, "seq": seq},
                    "count": count,
                },
                headers={"authorization": f"Bearer {TOKEN}"},
            )
            response.raise_for_status()
        else:
            for n in range(count):
                self.version += 1
                await self.bare.send(bare_frame(self.version, started, seq, n))
        return started


def bare_frame(version: int, sent: float, seq: int, n: int) -> str:
    """The same message Headwater sends, field for field."""
    event = {
        "id": str(uuid.uuid4()),
        "stream_id": "bench",
        "version": version,
        "position": version,
        "type": "Tick",
        "data": {"t": sent, "seq": seq, "n": n},
        "recorded_at": datetime.now(UTC).isoformat(),
    }
    frame = {"type": "event", "channel": CHANNEL, "position": version, "event": event}
    return orjson.dumps(frame).decode()


class Side:
    def __init__(self, name: str, pid: int) -> None:
        self.name = name
        self.pid = pid
        self.latencies: list[float] = []
        #: p99 (ms) of each latency round: rounds of both sides alternate, so the noise of
        #: a shared machine hits a pair alike and the median of per-pair ratios shrugs it off.
        self.round_p99: list[float] = []
        self.rates: list[float] = []
        #: How long each publish took to be acknowledged (Headwater: the append, fsync
        #: included; on a shared disk this is where most outliers come from).
        self.publish_ms: list[float] = []
        #: Server CPU microseconds per delivery in each burst: what the server itself
        #: spends, apart from the clients that share the machine.
        self.cpu_us: list[float] = []

    def p(self, q: float, latencies: list[float] | None = None) -> float:
        ordered = sorted(self.latencies if latencies is None else latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def latency_round(
    workers: Workers, publishers: Publishers, side: Side, seq: int, messages: int
) -> int:
    this_round: list[float] = []
    for _ in range(messages):
        await workers.ask("expect", side.name, seq, 1, True)
        started = await publishers.publish(side.name, seq, 1)
        published = time.monotonic() - started
        side.publish_ms.append(published * 1000)
        worst = 0.0
        for _, latencies in await workers.replies():
            this_round.extend(latencies)
            worst = max(worst, max(latencies))
        if os.environ.get("BENCH_DEBUG"):
            log(f"    {side.name} {seq}: publish {published * 1e3:.1f}, last {worst * 1e3:.1f} ms")
        seq += 1
        await asyncio.sleep(0.02)
    side.latencies.extend(this_round)
    side.round_p99.append(side.p(0.99, this_round))
    return seq


async def throughput_round(
    workers: Workers, publishers: Publishers, side: Side, seq: int, messages: int, clients: int
) -> int:
    await workers.ask("expect", side.name, seq, messages, False)
    cpu = cpu_seconds(side.pid)
    started = await publishers.publish(side.name, seq, messages)
    finished = max(done for done, _ in await workers.replies())
    side.cpu_us.append((cpu_seconds(side.pid) - cpu) * 1e6 / (clients * messages))
    side.rates.append(clients * messages / (finished - started))
    return seq + messages


@contextlib.contextmanager
def bare_server() -> Iterator[tuple[int, int]]:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    port = free_port()
    process = ctx.Process(target=bare_server_main, args=(port, ready), daemon=True)
    process.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the baseline server did not start")
        assert process.pid is not None
        yield port, process.pid
    finally:
        process.terminate()
        process.join(10)


async def measure_memory(workers: Workers, side: str, pid: int, clients: int) -> float:
    await asyncio.sleep(1)
    before = rss_kb(pid)
    connected = sum(await workers.ask("connect", side))
    if connected != clients:
        raise RuntimeError(f"{side}: {connected} of {clients} clients connected")
    await asyncio.sleep(1)  # idle: let allocator and buffers settle
    after = rss_kb(pid)
    log(f"{side}: {clients} connections, RSS {before} -> {after} kB")
    return (after - before) / clients


# --- the scale step: ~19,500 sockets on one node, each side in turn --------------------


SCALE_TARGETS: Final = {
    "scale_sockets": 19_000,  # at least
    "scale_broadcast_p99_ratio": 1.0,  # at most, and the rest at most too
    "scale_cpu_per_delivery_ratio": 1.1,
    "scale_kb_per_idle_connection": 20.0,
    "scale_gc_pause_max_ms": 50.0,
}


async def read_probes(side: str, http: httpx.AsyncClient, bare_port: int) -> dict[str, Any]:
    """The server's own lag and GC figures since the last read, then reset them."""
    if side == "headwater":
        response = await http.get("/_bench/probes", params={"reset": "true"})
        response.raise_for_status()
        figures: dict[str, Any] = response.json()
        return figures
    async with ws_connect(
        f"ws://127.0.0.1:{bare_port}/probes?reset",
        compression=None,
        ping_interval=None,
        open_timeout=120,  # a loaded baseline with 19,500 sockets can be slow to accept
    ) as ws:
        figures = orjson.loads(await ws.recv())
        return figures


async def scale_side(
    args: argparse.Namespace,
    workers: Workers,
    publishers: Publishers,
    side: Side,
    bare_port: int,
    seq: int,
) -> tuple[dict[str, Any], int]:
    http = publishers.http
    await read_probes(side.name, http, bare_port)
    before = rss_kb(side.pid)
    started = time.monotonic()
    connected = sum(await workers.ask("connect", side.name))
    connect_s = time.monotonic() - started
    connect_probe = await read_probes(side.name, http, bare_port)
    await asyncio.sleep(2)  # idle: let allocator and buffers settle
    kb = (rss_kb(side.pid) - before) / connected
    await read_probes(side.name, http, bare_port)
    await asyncio.sleep(args.scale_idle)
    idle = await read_probes(side.name, http, bare_port)
    seq = await latency_round(workers, publishers, side, seq, args.scale_broadcasts)
    seq = await throughput_round(workers, publishers, side, seq, args.scale_burst, connected)
    busy = await read_probes(side.name, http, bare_port)
    await workers.ask("drop", side.name)
    figures = {
        "sockets": connected,
        "connect_s": round(connect_s, 1),
        "kb_per_idle_connection": round(kb, 1),
        "idle_loop_lag_p99_ms": idle["lag_p99_ms"],
        "idle_loop_lag_max_ms": idle["lag_max_ms"],
        "broadcast_p99_ms": round(side.round_p99[-1], 1),
        "cpu_us_per_delivery": round(side.cpu_us[-1], 2),
        "gc_pause_max_ms": max(
            connect_probe["gc_pause_max_ms"], idle["gc_pause_max_ms"], busy["gc_pause_max_ms"]
        ),
        "gc_pause_max_cpu_ms": max(
            connect_probe["gc_pause_max_cpu_ms"],
            idle["gc_pause_max_cpu_ms"],
            busy["gc_pause_max_cpu_ms"],
        ),
        "gc_collections": connect_probe["gc_collections"]
        + idle["gc_collections"]
        + busy["gc_collections"],
        "busy_loop_lag_max_ms": busy["lag_max_ms"],
        "gc_pause_max_ms_by_generation": [
            max(c, i, b)
            for c, i, b in zip(
                connect_probe["gc_pause_max_ms_by_generation"],
                idle["gc_pause_max_ms_by_generation"],
                busy["gc_pause_max_ms_by_generation"],
                strict=True,
            )
        ],
    }
    log(f"  scale {side.name}: {figures}")
    return figures, seq


async def scale_step(
    args: argparse.Namespace,
    summary: dict[str, Any],
    node: RunningServer,
    publishers: Publishers,
    bare_port: int,
    bare_pid: int,
) -> None:
    """Both sides at the same socket count, one after the other (the fd limit of one
    process is ~20,000), from several client processes, each bound to its own
    127.24.N.1 so the client side never runs out of ephemeral ports."""
    count, processes_count = args.scale_clients, args.scale_workers
    per = count // processes_count
    urls = {"headwater": f"{node.ws_url}/realtime/ws", "bare": f"ws://127.0.0.1:{bare_port}/"}
    ctx = multiprocessing.get_context("spawn")
    pipes, processes = [], []
    for n in range(processes_count):
        ours, theirs = ctx.Pipe()
        source = f"127.24.{n + 1}.1"
        process = ctx.Process(target=worker_main, args=(theirs, urls, per, source), daemon=True)
        process.start()
        pipes.append(ours)
        processes.append(process)
    workers = Workers(pipes)
    results: dict[str, dict[str, Any]] = {}
    try:
        seq = 10_000_000
        for name, pid in (("bare", bare_pid), ("headwater", node.process.pid)):
            results[name], seq = await scale_side(
                args, workers, publishers, Side(name, pid), bare_port, seq
            )
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(workers.ask("stop"), 30)
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
    hw, bare = results["headwater"], results["bare"]
    summary.update(
        scale_sockets=min(hw["sockets"], bare["sockets"]),
        scale_broadcast_p99_ratio=round(hw["broadcast_p99_ms"] / bare["broadcast_p99_ms"], 2),
        scale_cpu_per_delivery_ratio=round(
            hw["cpu_us_per_delivery"] / bare["cpu_us_per_delivery"], 2
        ),
        scale_kb_per_idle_connection=hw["kb_per_idle_connection"],
        scale_idle_loop_lag_p99_ms=hw["idle_loop_lag_p99_ms"],
        scale_bare_idle_loop_lag_p99_ms=bare["idle_loop_lag_p99_ms"],
        scale_gc_pause_max_ms=hw["gc_pause_max_ms"],
        scale_gc_pause_max_cpu_ms=hw["gc_pause_max_cpu_ms"],
        scale_bare_gc_pause_max_ms=bare["gc_pause_max_ms"],
        scale_headwater=hw,
        scale_bare=bare,
    )


@contextlib.contextmanager
def database(args: argparse.Namespace, tmp: Path) -> Iterator[str]:
    """SQLite in ``tmp``, or a fresh, migrated schema on ``--postgres-url``."""
    if not args.postgres_url:
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    import psycopg  # only for this option

    schema = f"hw_bench_rt_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{args.postgres_url}?schema={schema}"
    try:
        subprocess.run(
            [sys.executable, "-m", "headwater.cli._main", "migrate", "--url", url],
            check=True,
            capture_output=True,
            env={**os.environ, "HEADWATER_SECRET_KEY": "bench-secret-key"},
        )
        yield url
    finally:
        with psycopg.connect(args.postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def run(args: argparse.Namespace, summary: dict[str, Any]) -> None:
    clients, workers_count = args.clients, args.workers
    per_worker = clients // workers_count
    clients = per_worker * workers_count
    summary["clients"] = clients
    with (
        tempfile.TemporaryDirectory(dir=args.store_dir) as tmp,
        database(args, Path(tmp)) as url,
        serve(
            url,
            workdir=Path(tmp),
            apps=[
                "benchmarks.realtime:server_app",
                "headwater.testing._realtime:append_app",
                "benchmarks.realtime:probe_app",
            ],
            env={
                "PYTHONPATH": str(REPO),
                # Appends come as anonymous callers from one address (the static test
                # tokens are not the security module's): their rate limit would stop them.
                "HEADWATER_RATE_LIMITS": "false",
                "BENCH_GC_PROBE": os.environ.get("BENCH_GC_PROBE", ""),
            },
        ) as node,
        bare_server() as (bare_port, bare_pid),
    ):
        urls = {"headwater": f"{node.ws_url}/realtime/ws", "bare": f"ws://127.0.0.1:{bare_port}/"}
        ctx = multiprocessing.get_context("spawn")
        pipes, processes = [], []
        for _ in range(workers_count):
            ours, theirs = ctx.Pipe()
            process = ctx.Process(target=worker_main, args=(theirs, urls, per_worker), daemon=True)
            process.start()
            pipes.append(ours)
            processes.append(process)
        workers = Workers(pipes)
        try:
            await drive(args, summary, node, workers, bare_port, bare_pid, clients)
            for line in node.output().splitlines():
                if line.startswith("GC "):
                    log(f"server: {line}")
        finally:
            with contextlib.suppress(Exception):
                lost = await asyncio.wait_for(workers.ask("stop"), 30)
                summary["connections_lost"] = sum(lost)
            for process in processes:
                process.join(10)
                if process.is_alive():
                    process.kill()


async def drive(
    args: argparse.Namespace,
    summary: dict[str, Any],
    node: RunningServer,
    workers: Workers,
    bare_port: int,
    bare_pid: int,
    clients: int,
) -> None:
    async with (
        httpx.AsyncClient(base_url=node.url, timeout=60) as http,
        ws_connect(
            f"ws://127.0.0.1:{bare_port}/publish", compression=None, ping_interval=None
        ) as bare,
    ):
        publishers = Publishers(http, bare)
        # Warm both paths (imports, first store reads) before anything is measured.
        await publishers.publish("headwater", 0, 1)
        await publishers.publish("bare", 0, 1)
        if args.scale_only:
            await scale_step(args, summary, node, publishers, bare_port, bare_pid)
            return
        kb = await measure_memory(workers, "headwater", node.process.pid, clients)
        bare_kb = await measure_memory(workers, "bare", bare_pid, clients)
        sides = {"headwater": Side("headwater", node.process.pid), "bare": Side("bare", bare_pid)}
        seq = 1000
        for repeat in range(args.repeats):
            order = ["headwater", "bare"] if repeat % 2 == 0 else ["bare", "headwater"]
            for name in order:
                seq = await latency_round(workers, publishers, sides[name], seq, args.messages)
                seq = await throughput_round(
                    workers, publishers, sides[name], seq, args.burst, clients
                )
                log(
                    f"  {name}: repeat {repeat + 1}/{args.repeats}: p99 "
                    f"{sides[name].round_p99[-1]:.1f} ms, {sides[name].rates[-1]:,.0f} deliveries/s"
                )
        if args.scale_clients:
            # The fan-out rounds' sockets go first: each server holds only the scale's.
            await workers.ask("drop", "headwater")
            await workers.ask("drop", "bare")
            await scale_step(args, summary, node, publishers, bare_port, bare_pid)
    hw, base = sides["headwater"], sides["bare"]
    p99_ratios = [h / b for h, b in zip(hw.round_p99, base.round_p99, strict=True)]
    rate_ratios = [h / b for h, b in zip(hw.rates, base.rates, strict=True)]
    hw_cpu, base_cpu = statistics.median(hw.cpu_us), statistics.median(base.cpu_us)
    summary.update(
        fanout_p99_ratio=round(statistics.median(p99_ratios), 2),
        fanout_throughput_ratio=round(statistics.median(rate_ratios), 2),
        kb_per_idle_connection=round(kb, 1),
        p99_ratio_per_repeat=[round(r, 2) for r in p99_ratios],
        throughput_ratio_per_repeat=[round(r, 2) for r in rate_ratios],
        headwater_p50_ms=round(hw.p(0.50), 2),
        headwater_p99_ms=round(hw.p(0.99), 2),
        bare_p50_ms=round(base.p(0.50), 2),
        bare_p99_ms=round(base.p(0.99), 2),
        headwater_deliveries_per_s=round(statistics.median(hw.rates)),
        bare_deliveries_per_s=round(statistics.median(base.rates)),
        headwater_append_p50_ms=round(statistics.median(hw.publish_ms), 2),
        headwater_append_max_ms=round(max(hw.publish_ms), 2),
        headwater_server_cpu_us_per_delivery=round(hw_cpu, 2),
        bare_server_cpu_us_per_delivery=round(base_cpu, 2),
        server_cpu_ratio=round(hw_cpu / base_cpu, 2),
        bare_kb_per_idle_connection=round(bare_kb, 1),
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages, under a minute")
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument(
        "--store-dir",
        default=DEFAULT_STORE_DIR,
        help="where the SQLite file lives (default: tmpfs, see the module docstring)",
    )
    parser.add_argument(
        "--scale-clients",
        type=int,
        default=19_500,
        help="sockets per side in the scale step (0: skip it); the fd limit is ~20,000",
    )
    parser.add_argument("--scale-workers", type=int, default=4, help="client processes")
    parser.add_argument(
        "--scale-only", action="store_true", help="skip the fan-out rounds: the scale step only"
    )
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="run the node on PostgreSQL (a fresh schema) instead of SQLite",
    )
    args = parser.parse_args(argv)
    args.scale_broadcasts = 5 if args.quick else 10  # broadcasts to every socket
    args.scale_burst = 5 if args.quick else 20  # events of the CPU-per-delivery burst
    args.scale_idle = 3.0 if args.quick else 10.0  # seconds of idle lag measured
    args.messages = 8 if args.quick else 30  # latency messages per round
    args.burst = 10 if args.quick else 100  # messages per throughput burst
    args.repeats = 3 if args.quick else 5
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_open_files()
    started = time.perf_counter()
    summary: dict[str, Any] = {
        "benchmark": "realtime",
        "quick": args.quick,
        "store": "postgresql"
        if args.postgres_url
        else f"sqlite (synchronous=FULL) in {args.store_dir or tempfile.gettempdir()}",
        "messages_per_latency_round": args.messages,
        "messages_per_burst": args.burst,
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
    }
    try:
        asyncio.run(run(args, summary))
    except Exception as exc:
        log(f"FAILED: {exc!r}")
        summary["error"] = f"{type(exc).__name__}: {exc}"
    summary["targets"], summary["met"] = {}, {}
    if not args.scale_only:
        ratios = {k: summary.get(k) for k in TARGETS}
        summary["targets"] = {**TARGETS, "kb_per_idle_connection": KB_TARGET}
        summary["met"] = {
            "fanout_p99_ratio": (ratios["fanout_p99_ratio"] or 99) <= TARGETS["fanout_p99_ratio"],
            "fanout_throughput_ratio": (ratios["fanout_throughput_ratio"] or 0)
            >= TARGETS["fanout_throughput_ratio"],
            "kb_per_idle_connection": (summary.get("kb_per_idle_connection") or 999) <= KB_TARGET,
        }
    if args.scale_clients:
        summary["targets"].update(SCALE_TARGETS)
        figure = summary.get
        summary["met"].update(
            scale_sockets=(figure("scale_sockets") or 0) >= SCALE_TARGETS["scale_sockets"],
            scale_broadcast_p99_ratio=(figure("scale_broadcast_p99_ratio") or 99)
            <= SCALE_TARGETS["scale_broadcast_p99_ratio"],
            scale_cpu_per_delivery_ratio=(figure("scale_cpu_per_delivery_ratio") or 99)
            <= SCALE_TARGETS["scale_cpu_per_delivery_ratio"],
            scale_kb_per_idle_connection=(figure("scale_kb_per_idle_connection") or 999)
            <= SCALE_TARGETS["scale_kb_per_idle_connection"],
            scale_idle_loop_lag_p99_ms=(figure("scale_idle_loop_lag_p99_ms") or 1e9)
            <= (figure("scale_bare_idle_loop_lag_p99_ms") or 0),
            scale_gc_pause_max_ms=(figure("scale_gc_pause_max_ms") or 1e9)
            <= SCALE_TARGETS["scale_gc_pause_max_ms"],
        )
    summary["seconds"] = round(time.perf_counter() - started, 1)
    emit_summary(summary)
    return 0 if "error" not in summary else 1


if __name__ == "__main__":
    sys.exit(main())
