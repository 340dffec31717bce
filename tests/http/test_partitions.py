"""Three ``headwater serve`` nodes on PostgreSQL, each through its own fault proxy.

Load runs on every node while one node's database link is cut (black hole, replies
dropped one way, the database down) or slowed; the node must fail fast with the JSON
503, say it is not ready, and come back on its own when the link heals. Every figure
is printed (``pytest -s``) for the record; the bounds asserted are the ones the
defaults promise (a request fails within 5 s), not speeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import websockets

from headwater.testing._fault_proxy import FaultProxy, running_fault_proxy
from headwater.testing._server import RunningServer, serve
from tests.realtime.support import Client, ws_client
from tests.security.support import ROOT_EMAIL, ROOT_PASSWORD

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, pytest.mark.slow]

REPO = str(Path(__file__).resolve().parents[2])
APPS = [
    "tests.http.routes.serve_app:module",
    "tests.realtime.app:realtime",
    "tests.realtime.app:appender",
    "tests.http.partition_app:reader",
]
ENV = {
    "HEADWATER_RATE_LIMITS": "false",
    "PYTHONPATH": os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p),
}
ALICE = {"authorization": "Bearer alice-token"}
#: What the default deadlines promise: a request on a dead link fails within this.
FAIL_WITHIN = 5.0
#: ... and a healed node serves again within this.
RECOVER_WITHIN = 5.0
POOL_SIZE = 10  # PostgresEventStore's default


@dataclass
class Node:
    name: str
    server: RunningServer
    proxy: FaultProxy

    @property
    def url(self) -> str:
        return self.server.url


def migrate(url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "headwater.cli._main", "migrate", "--url", url],
        check=True,
        capture_output=True,
        env={**os.environ, **ENV, "HEADWATER_SECRET_KEY": "test-secret-key"},
    )


@pytest.fixture(scope="module")
def database(postgres_server: str) -> Iterator[str]:
    """A migrated schema of its own; yields its URL *without* the host part's port."""
    schema = f"hw_part_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{postgres_server}?schema={schema}"
    # Every core module's tables (the security module's too), as `headwater migrate`
    # does before a rollout.
    migrate(url)
    try:
        yield url
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextlib.contextmanager
def node(name: str, database: str, workdir: Path, **env: str) -> Iterator[Node]:
    with running_fault_proxy("127.0.0.1", 5432) as proxy:
        url = database.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        with serve(url, workdir=workdir, apps=APPS, env={**ENV, **env}) as server:
            yield Node(name, server, proxy)


@pytest.fixture(scope="module")
def cluster(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Node]]:
    workdir = tmp_path_factory.mktemp("partitions")
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(node(name, database, workdir)) for name in "abc"]


# --- load and what it saw -----------------------------------------------------------


@dataclass
class Call:
    node: str
    kind: str
    started: float
    ended: float
    status: int  # 0: no HTTP answer at all (a client-side timeout or a dropped socket)
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: str | None = None
    content_type: str = ""

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    @property
    def standard_503(self) -> bool:
        error = self.body.get("error")
        return (
            self.status == 503
            and self.content_type.startswith("application/json")
            and isinstance(error, dict)
            and isinstance(error.get("code"), str)
            and self.retry_after is not None
            and self.retry_after.isdigit()
        )


async def timed(
    http: httpx.AsyncClient, node: str, kind: str, method: str, path: str, **kw: Any
) -> Call:
    started = time.monotonic()
    try:
        response = await http.request(method, path, **kw)
    except httpx.HTTPError:
        return Call(node, kind, started, time.monotonic(), 0)
    ended = time.monotonic()
    try:
        body = response.json()
    except ValueError:
        body = {}
    return Call(
        node,
        kind,
        started,
        ended,
        response.status_code,
        body if isinstance(body, dict) else {},
        response.headers.get("retry-after"),
        response.headers.get("content-type", ""),
    )


class Load:
    """Appends (and reads) in a loop on every node; records every call."""

    def __init__(self, nodes: list[Node], *, workers: int = 2, reads: bool = True) -> None:
        self.nodes = nodes
        self.workers = workers
        self.reads = reads
        self.calls: list[Call] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.tag = uuid.uuid4().hex[:6]

    async def __aenter__(self) -> Load:
        for node in self.nodes:
            for worker in range(self.workers):
                self._tasks.append(asyncio.create_task(self._work(node, worker)))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _work(self, node: Node, worker: int) -> None:
        # A long client timeout: a hang must show up as a long call, not be cut short.
        async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
            i = 0
            while not self._stop.is_set():
                stream = f"load{self.tag}-{node.name}{worker}-{i % 4}"
                self.calls.append(
                    await timed(
                        http,
                        node.name,
                        "append",
                        "POST",
                        "/_test/append",
                        json={"stream_id": stream},
                        headers=ALICE,
                    )
                )
                if self.reads:
                    self.calls.append(
                        await timed(http, node.name, "read", "GET", f"/_test/read/{stream}")
                    )
                    await asyncio.sleep(0.02)
                i += 1

    def on(self, name: str, kind: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.node == name and (kind is None or c.kind == kind)]


class Poller:
    """GET a path on one node every ``every`` seconds; records every answer."""

    def __init__(self, node: Node, path: str, every: float = 0.25) -> None:
        self.node = node
        self.path = path
        self.every = every
        self.calls: list[Call] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Poller:
        self._task = asyncio.create_task(self._poll())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _poll(self) -> None:
        async with httpx.AsyncClient(base_url=self.node.url, timeout=30) as http:
            while True:
                self.calls.append(await timed(http, self.node.name, self.path, "GET", self.path))
                await asyncio.sleep(self.every)


async def first_success(
    node: Node, method: str, path: str, since: float, within: float, **kw: Any
) -> float:
    """Seconds from ``since`` until ``path`` first answers 2xx on ``node``."""
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        while True:
            call = await timed(http, node.name, path, method, path, **kw)
            if 200 <= call.status < 300:
                return call.ended - since
            assert call.ended - since < within + FAIL_WITHIN, f"{path} never recovered: {call}"
            await asyncio.sleep(0.1)


async def metric(node: Node, name: str, labels: str = "") -> float:
    async with httpx.AsyncClient(base_url=node.url, timeout=30) as http:
        text = (await http.get("/metrics")).text
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    raise AssertionError(f"no {prefix!r} in /metrics")


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def receive_marker(client: Client, stream: str, within: float) -> None:
    """Read events until one of ``stream`` arrives."""
    deadline = time.monotonic() + within
    while True:
        message = await client.recv(max(0.05, deadline - time.monotonic()))
        if message["type"] == "event" and message["event"]["stream_id"] == stream:
            return


async def realtime_recovery(victim: Node, other: Node, since: float, within: float) -> float:
    """Seconds from ``since`` until an event appended through ``other`` reaches a
    WebSocket client of ``victim`` (appending a fresh marker every half second).

    The client behaves as ``headwater.js`` does: a close with 1013 ("try again later",
    the node's hub has not yet seen the store answer again) is followed by a reconnect;
    the time still counts from ``since``."""
    while True:
        try:
            return await _realtime_marker(victim, other, since, within)
        except websockets.ConnectionClosedError as exc:
            if exc.rcvd is None or exc.rcvd.code != 1013:
                raise
            assert time.monotonic() - since < within + FAIL_WITHIN, "no realtime after heal"
            await asyncio.sleep(0.25)


async def _realtime_marker(victim: Node, other: Node, since: float, within: float) -> float:
    category = f"mark{uuid.uuid4().hex[:6]}"
    async with (
        ws_client(victim.server) as client,
        httpx.AsyncClient(base_url=other.url, timeout=30) as http,
    ):
        await client.subscribe(f"category:{category}")
        i = 0
        while True:
            stream = f"{category}-{i}"
            response = await http.post("/_test/append", json={"stream_id": stream}, headers=ALICE)
            assert response.status_code == 200, response.text
            with contextlib.suppress(TimeoutError):
                await receive_marker(client, stream, 0.5)
                return time.monotonic() - since
            assert time.monotonic() - since < within + FAIL_WITHIN, "no realtime event after heal"
            i += 1


# --- the scenarios ------------------------------------------------------------------


async def cut_and_heal(
    cluster: list[Node], cut: Callable[[FaultProxy], None], label: str, seconds: float = 15.0
) -> None:
    victim, *others = cluster
    async with Load(cluster) as load, Poller(victim, "/readyz") as ready:
        await asyncio.sleep(2.0)  # everyone serving
        cut_at = time.monotonic()
        cut(victim.proxy)
        await asyncio.sleep(seconds)
        victim.proxy.heal()
        healed_at = time.monotonic()
        # All three at once, each timed from the heal.
        append_back, read_back, realtime_back = await asyncio.gather(
            first_success(
                victim,
                "POST",
                "/_test/append",
                healed_at,
                RECOVER_WITHIN,
                json={"stream_id": f"back-{uuid.uuid4().hex[:6]}"},
                headers=ALICE,
            ),
            first_success(victim, "GET", "/_test/read/x", healed_at, RECOVER_WITHIN),
            realtime_recovery(victim, others[0], healed_at, RECOVER_WITHIN),
        )
        await asyncio.sleep(1.0)
    # What the victim's clients saw while its link was cut.
    during = [c for c in load.on(victim.name) if cut_at <= c.started < healed_at - FAIL_WITHIN]
    in_flight = [c for c in load.on(victim.name) if c.started < cut_at < c.ended]
    failures = [c for c in during if c.status != 200]
    ready_during = [c for c in ready.calls if cut_at <= c.started < healed_at]
    first_not_ready = min(
        (c.ended for c in ready.calls if c.ended > cut_at and c.status == 503), default=None
    )
    ready_back = min(
        (c.ended for c in ready.calls if c.started >= healed_at and c.status == 200), default=None
    )
    figures = {
        "calls_during_cut": len(during),
        "slowest_call_during_cut_s": round(max((c.seconds for c in during), default=0), 2),
        "in_flight_at_cut_ended_after_s": round(
            max((c.ended - cut_at for c in in_flight), default=0), 2
        ),
        "readyz_503_after_s": (
            None if first_not_ready is None else round(first_not_ready - cut_at, 2)
        ),
        "slowest_readyz_s": round(max((c.seconds for c in ready_during), default=0), 2),
        "append_back_after_heal_s": round(append_back, 2),
        "read_back_after_heal_s": round(read_back, 2),
        "realtime_back_after_heal_s": round(realtime_back, 2),
        "readyz_200_after_heal_s": None if ready_back is None else round(ready_back - healed_at, 2),
        "statuses_on_victim": sorted({c.status for c in load.on(victim.name)}),
        "statuses_on_others": sorted({c.status for n in others for c in load.on(n.name)}),
    }
    print(f"\n{label}: {figures}")
    assert during, "no call reached the cut node"
    assert failures, "no call failed on the cut node"
    for c in failures:
        assert c.standard_503, f"not the JSON 503 with Retry-After: {c}"
    assert all(c.seconds < FAIL_WITHIN for c in during), figures
    assert all(c.ended - cut_at < FAIL_WITHIN for c in in_flight), figures
    assert 500 not in figures["statuses_on_victim"]
    assert 0 not in figures["statuses_on_victim"]
    assert first_not_ready is not None
    assert first_not_ready - cut_at < FAIL_WITHIN, figures
    assert all(c.status in (200, 503) and c.seconds < FAIL_WITHIN for c in ready_during)
    assert append_back < RECOVER_WITHIN, figures
    assert read_back < RECOVER_WITHIN, figures
    assert realtime_back < RECOVER_WITHIN, figures
    assert ready_back is not None
    assert ready_back - healed_at < RECOVER_WITHIN + 1, figures
    # The other nodes never noticed.
    assert figures["statuses_on_others"] == [200], figures
    # No connection leaked: the whole pool can be busy at once, and the pool and the
    # proxy hold no more connections than the pool's size (+ the writer and LISTEN).
    async with httpx.AsyncClient(base_url=victim.url, timeout=30) as http:
        burst = await asyncio.gather(
            *(timed(http, "a", "read", "GET", f"/_test/read/b{i}") for i in range(POOL_SIZE * 2))
        )
    assert {c.status for c in burst} == {200}
    pool_open = await metric(victim, "headwater_postgres_pool_connections", 'state="open"')
    print(f"{label}: pool open after heal {pool_open}, proxied links {len(victim.proxy.links)}")
    assert 1 <= pool_open <= POOL_SIZE


async def test_a_black_holed_node_fails_fast_with_503_and_recovers_on_its_own(
    cluster: list[Node],
) -> None:
    await cut_and_heal(cluster, FaultProxy.black_hole, "black hole 15 s")


async def test_a_node_whose_replies_are_dropped_fails_fast_and_recovers_on_its_own(
    cluster: list[Node],
) -> None:
    await cut_and_heal(cluster, lambda proxy: proxy.drop("downstream"), "replies dropped 15 s")


async def test_authenticated_requests_get_the_json_503_fast_while_the_database_is_down(
    cluster: list[Node],
) -> None:
    victim = cluster[0]
    async with httpx.AsyncClient(base_url=victim.url, timeout=30) as http:
        credentials = {"email": ROOT_EMAIL, "password": ROOT_PASSWORD}
        login = await http.post("/auth/login", json=credentials)
        assert login.status_code == 200, login.text
        me = {"authorization": f"Bearer {login.json()['data']['access_token']}"}
        assert (await http.get("/auth/me", headers=me)).status_code == 200
        victim.proxy.refuse()
        try:
            await asyncio.sleep(0.6)  # past the serve app's revocation cache (0.5 s)
            calls = [await timed(http, "a", "me", "GET", "/auth/me", headers=me) for _ in range(5)]
            ready = await timed(http, "a", "ready", "GET", "/readyz")
        finally:
            victim.proxy.heal()
        healed_at = time.monotonic()
        back = await first_success(victim, "GET", "/auth/me", healed_at, RECOVER_WITHIN, headers=me)
    figures = {
        "auth_503_seconds": [round(c.seconds, 2) for c in calls],
        "readyz_503_seconds": round(ready.seconds, 2),
        "back_after_heal_s": round(back, 2),
    }
    print(f"\ndatabase down, authenticated: {figures}")
    for c in [*calls, ready]:
        assert c.status == 503, c
        assert c.retry_after is not None, c
    assert all(c.standard_503 for c in calls), calls
    # The pool's wait (1.5 s by default) bounds them, with slack for a busy machine.
    assert all(c.seconds < 1.5 + 1.0 for c in [*calls, ready]), figures


async def test_sigterm_during_a_black_hole_exits_within_the_grace_period(
    database: str, tmp_path: Path
) -> None:
    grace = 15.0  # uvicorn's 5 s for open connections, then the bounded shutdown
    with node("t", database, tmp_path) as victim:
        async with Load([victim]) as load:
            await asyncio.sleep(1.0)
            victim.proxy.black_hole()
            await asyncio.sleep(2.0)  # calls now hang on the dead link
            victim.server.process.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            await asyncio.to_thread(victim.server.process.wait, 30)
            exited_after = time.monotonic() - sent
        code = victim.server.process.returncode
    print(f"\nSIGTERM in a black hole: exited after {exited_after:.2f}s with {code}")
    assert load.on("t"), "no load reached the node"
    output = victim.server.output()
    assert exited_after < grace, output[-3000:]
    # A clean shutdown: uvicorn finishes, then re-raises the signal it caught, so the
    # exit status is the signal's (or 0 on older uvicorn), never a kill.
    assert "Application shutdown complete" in output, output[-3000:]
    assert code in (0, -signal.SIGTERM), output[-3000:]


async def test_latency_on_one_nodes_link_does_not_slow_appends_through_the_others(
    cluster: list[Node],
) -> None:
    slow, *others = cluster

    async def appends_p99(seconds: float) -> tuple[float, float, int]:
        # Appends only, four clients per node: enough samples for a p99 that means
        # something on a shared machine.
        async with Load(cluster, workers=4, reads=False) as load:
            await asyncio.sleep(seconds)
        started_after = load.calls[0].started if load.calls else 0.0
        times = [
            c.seconds
            for n in others
            for c in load.on(n.name, "append")
            if c.status == 200 and c.started > started_after + 1.0  # warmed up
        ]
        assert all(c.status == 200 for n in others for c in load.on(n.name))
        return p99(times), max(times), len(times)

    # Without, with, and without again: the machine's own load drifts (other work
    # shares it), so the phase with latency is compared with the slower of the two
    # around it.
    before = await appends_p99(10.0)
    slow.proxy.add_latency(0.1)  # each way: 200 ms per round trip
    try:
        during = await appends_p99(10.0)
    finally:
        slow.proxy.heal()
    after = await appends_p99(10.0)
    baseline = max(before[0], after[0])
    print(
        f"\nappends through the other nodes, p99/max/n: without latency {before} and "
        f"{after}, with 200 ms on one node's link {during}, ratio {during[0] / baseline:.2f}"
    )
    assert min(before[2], during[2], after[2]) >= 200, (before, during, after)
    assert during[0] <= 2 * baseline + 0.005, (before, during, after)


async def listen_link(node: Node, database: str) -> int:
    """The proxy port of ``node``'s LISTEN connection, as PostgreSQL names it."""
    ports = {link.upstream_port for link in node.proxy.links}
    base = database.partition("?schema=")[0]
    async with await psycopg.AsyncConnection.connect(base, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT client_port FROM pg_stat_activity WHERE application_name = 'headwater-listen'"
        )
        found = [int(row[0]) for row in await cursor.fetchall() if int(row[0]) in ports]
    assert len(found) == 1, f"expected one LISTEN connection through the proxy, got {found}"
    return found[0]


async def wake_ups(listener: Node, writer: Node, count: int) -> list[float]:
    """Seconds from an append through ``writer`` to its event on a ``listener`` client."""
    category = f"wake{uuid.uuid4().hex[:6]}"
    found = []
    async with (
        ws_client(listener.server) as client,
        httpx.AsyncClient(base_url=writer.url, timeout=30) as http,
    ):
        await client.subscribe(f"category:{category}")
        for i in range(count):
            stream = f"{category}-{i}"
            started = time.monotonic()
            response = await http.post("/_test/append", json={"stream_id": stream}, headers=ALICE)
            assert response.status_code == 200, response.text
            await receive_marker(client, stream, 10.0)
            found.append(round(time.monotonic() - started, 3))
            await asyncio.sleep(0.1)
    return found


async def test_a_silenced_listen_connection_is_replaced_and_wake_ups_return_to_milliseconds(
    cluster: list[Node], database: str
) -> None:
    listener, writer = cluster[0], cluster[1]
    before = await wake_ups(listener, writer, 5)
    reconnects = await metric(listener, "headwater_postgres_listen_reconnects_total")
    port = await listen_link(listener, database)
    listener.proxy.link_for_upstream_port(port).black_hole()
    silenced_at = time.monotonic()
    while await metric(listener, "headwater_postgres_listen_reconnects_total") == reconnects:
        assert time.monotonic() - silenced_at < 10, "the silent LISTEN connection is still in use"
        await asyncio.sleep(0.1)
    replaced_after = time.monotonic() - silenced_at
    after = await wake_ups(listener, writer, 5)
    print(
        f"\nLISTEN silenced: replaced after {replaced_after:.2f}s; cross-node wake-ups (s) "
        f"before {before}, after {after}"
    )
    assert replaced_after < 10
    assert await listen_link(listener, database) != port
    # The hub's safety-net poll is 1 s: well under it means a LISTEN wake-up.
    assert sorted(after)[len(after) // 2] < 0.3, after
