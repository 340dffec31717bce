"""HTTP: a cached read-model GET through Headwater against a bare Starlette JSON endpoint.

Run: ``python benchmarks/http.py [--quick]``. Progress goes to stderr; the last line
of stdout is one JSON object.

* Headwater: a real ``headwater serve`` with the cache module and a read-model route,
  ``GET /bench/leaderboard``: the whole middleware stack (request id, security
  headers, authentication as anonymous, body limit, error boundary), the query
  behind ``@cached`` (``REALTIME`` policy: an L1 hit after the first request; the
  first one reads the read model, a table kept by a projection-style writer), the
  response envelope (``success``, ``data``, ``meta``) serialised by FastAPI.
* Baseline: a Starlette app with one route returning the same rows as
  ``JSONResponse``, under ``uvicorn`` with the options ``headwater serve`` uses
  (httptools, uvloop, access log at info, proxy headers, no server header).
* Yardstick (``fastapi_plain_ratio``): FastAPI alone, one route returning the same
  bytes, same server options. Headwater is a FastAPI app, so this bounds its ratio;
  the gap between the two is Headwater's middleware stack.

Load: client processes (sharing the 2 cores with the server) each hold keep-alive
connections and send GETs back to back for a fixed time; requests per second over
all of them. The sides take turns, repeat by repeat; the ratio is the median of the
per-repeat ratios, so background load on a shared machine hits both alike.
"""

from __future__ import annotations

import os
import sys

# Any ``python benchmarks/<script>.py`` puts this directory first on sys.path, where
# this file's name shadows the standard library's ``http`` package, which httpx,
# starlette and uvicorn import. So:
# 1. imported *as* ``http`` (by another script here): hand over to the real package
#    and define nothing (the import system reads sys.modules["http"] again once this
#    body has run; defining the benchmark here would re-enter half-imported libraries);
# 2. run as a script: move this directory to the end of sys.path (``_common`` is
#    still found there) and define the benchmark.
_HERE = os.path.dirname(os.path.abspath(__file__))


def _not_here(entry: str) -> bool:
    return os.path.abspath(entry or os.curdir) != _HERE


if __name__ == "http":
    import importlib

    _saved = list(sys.path)
    sys.path[:] = [entry for entry in sys.path if _not_here(entry)]
    del sys.modules["http"]
    sys.modules["http"] = importlib.import_module("http")
    sys.path[:] = _saved
else:
    sys.path[:] = [entry for entry in sys.path if _not_here(entry)] + [_HERE]
    import argparse
    import asyncio
    import contextlib
    import functools
    import multiprocessing
    import sqlite3
    import statistics
    import subprocess
    import tempfile
    import time
    import uuid as uuid_module
    from collections.abc import Iterator, Sequence
    from multiprocessing.connection import Connection as Pipe
    from pathlib import Path
    from typing import Any, Final

    import httpx
    import jwt
    import orjson
    import secure
    import structlog
    import uvloop
    from _common import emit_summary, log
    from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from prometheus_fastapi_instrumentator import Instrumentator
    from slowapi import Limiter, _rate_limit_exceeded_handler
    from slowapi.errors import RateLimitExceeded
    from slowapi.middleware import SlowAPIMiddleware
    from slowapi.util import get_remote_address
    from starlette.applications import Starlette
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from headwater.cache import REALTIME, SHARED, Cache, read_model_tag
    from headwater.http._responses import Envelope, utc_timestamp
    from headwater.modules import Module
    from headwater.ratelimit import RateLimitConfig, RateLimitModule, TierLimit
    from headwater.runtime import Runtime
    from headwater.testing._server import free_port, serve

    REPO: Final = Path(__file__).resolve().parent.parent
    PATH: Final = "/bench/leaderboard"
    TARGET: Final = 0.6
    #: Headwater against the FastAPI app a team would assemble for the same features.
    ASSEMBLED_TARGET: Final = 1.2
    #: Limits no load here reaches: both sides count every request, neither refuses.
    GENEROUS_PER_MINUTE: Final = 1_000_000_000
    ROWS: Final = 20

    def rows() -> list[dict[str, Any]]:
        return [
            {"player_id": f"p-{i:04d}", "name": f"Player {i}", "score": 1000 - i * 7, "rank": i + 1}
            for i in range(ROWS)
        ]

    # --- the Headwater side: a read model behind the cache -------------------------------

    class LeaderboardModule(Module):
        """A read-model table, and a cached GET of its top rows."""

        name = "bench-leaderboard"

        def __init__(self) -> None:
            self.runtime: Runtime | None = None

        async def start(self, runtime: Runtime) -> None:
            self.runtime = runtime
            async with runtime.store.transaction() as tx:
                await tx.execute(
                    "CREATE TABLE IF NOT EXISTS bench_leaderboard "
                    "(player_id TEXT PRIMARY KEY, name TEXT, score INTEGER, rank INTEGER)"
                )
                await tx.executemany(
                    "INSERT INTO bench_leaderboard VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (player_id) DO UPDATE SET score = excluded.score",
                    [(r["player_id"], r["name"], r["score"], r["rank"]) for r in rows()],
                )

        def cache(self) -> Cache:
            assert self.runtime is not None
            found: Cache = self.runtime.require_cache()
            return found

        def routers(self) -> Sequence[APIRouter]:
            router = APIRouter(tags=["bench"])

            async def top_rows() -> bytes:
                """The read-model query; its result is cached already rendered as JSON."""
                assert self.runtime is not None
                async with self.runtime.store.transaction() as tx:
                    found = await tx.fetchall(
                        "SELECT player_id, name, score, rank FROM bench_leaderboard "
                        "ORDER BY rank LIMIT ?",
                        (ROWS,),
                    )
                data = [{"player_id": p, "name": n, "score": s, "rank": r} for p, n, s, r in found]
                return orjson.dumps(data)

            # The response model documents the shape; the handler returns bytes it renders
            # once per cache fill, not once per request, and FastAPI does not re-validate.
            @router.get(PATH, response_model=Envelope[list[dict[str, Any]]])
            async def get_leaderboard() -> Response:
                data = await self.cache().get_or_compute(
                    "leaderboard",
                    top_rows,
                    policy=REALTIME,
                    tags=[read_model_tag("bench_leaderboard")],
                    tenant=SHARED,
                )
                meta = orjson.dumps({"timestamp": utc_timestamp()})
                body = b'{"success":true,"data":' + data + b',"meta":' + meta + b"}"
                return Response(body, media_type="application/json")

            return [router]

    leaderboard_app = LeaderboardModule()

    # --- the baseline -------------------------------------------------------------------

    _ROWS = rows()

    async def _bare(request: Any) -> JSONResponse:
        return JSONResponse({"success": True, "data": _ROWS})

    bare_app = Starlette(routes=[Route(PATH, _bare)])

    #: Not a baseline but a yardstick: FastAPI alone, one route returning the same bytes,
    #: no middleware. Headwater is built on FastAPI, so this is the ceiling of its ratio.
    fastapi_app = FastAPI()
    _PLAIN = orjson.dumps({"success": True, "data": _ROWS})

    @fastapi_app.get(PATH)
    async def _fastapi_plain() -> Response:
        return Response(_PLAIN, media_type="application/json")

    #: Headwater's own limiter, on, with limits the load never reaches (the default
    #: anonymous tier would refuse one client address at once): the side the assembled
    #: app is compared with, since that one runs slowapi.
    generous_limits = RateLimitModule(
        RateLimitConfig(
            tiers={
                name: TierLimit(per_minute=GENEROUS_PER_MINUTE, concurrent=1_000_000)
                for name in ("anonymous", "user", "premium")
            },
            endpoints=(),
        )
    )

    def _build_assembled() -> FastAPI:
        """What a team would build instead: FastAPI and the popular library for each feature.

        * authentication: a PyJWT bearer dependency (anonymous when no token, as on
          Headwater's public routes; a bad token is a 401);
        * rate limits: slowapi's middleware, a default limit per client address, with
          its rate-limit headers (its pure-ASGI variant sends the response start twice
          when a body comes in parts, as the ``@app.middleware`` layers send it). Its
          in-memory storage (``limits``' sync ``MemoryStorage``, slowapi's default)
          schedules each expiry sweep on a ``threading.Timer`` 10 ms ahead: whenever
          the last one has run, a hit starts a new thread, and on a loaded machine
          that is most of this app's cost (profiled: thread starts and lock waits);
        * access log: structlog, one JSON line per request with a request id, method,
          path, status and duration, bound in context vars for the handler's logs;
        * metrics: prometheus-fastapi-instrumentator (request counts, latency and
          size histograms by handler);
        * security headers: the ``secure`` library, as its FastAPI guide sets them;
        * compression: Starlette's GZipMiddleware;
        * the read model: the same rows in an SQLite table, read on a miss, and kept
          rendered in an in-process cache with a TTL (no cache library needed).
        """
        secret = "assembled-bench-secret-of-32-bytes!"
        database = Path(tempfile.mkdtemp()) / "assembled.db"
        with contextlib.closing(sqlite3.connect(database)) as db, db:
            db.execute(
                "CREATE TABLE leaderboard "
                "(player_id TEXT PRIMARY KEY, name TEXT, score INTEGER, rank INTEGER)"
            )
            db.executemany(
                "INSERT INTO leaderboard VALUES (?, ?, ?, ?)",
                [(r["player_id"], r["name"], r["score"], r["rank"]) for r in rows()],
            )
        structlog.configure(
            processors=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso"),
                structlog.processors.JSONRenderer(),
            ],
            cache_logger_on_first_use=True,
        )
        access = structlog.get_logger("access")
        limiter = Limiter(
            key_func=get_remote_address,
            default_limits=[f"{GENEROUS_PER_MINUTE}/minute"],
            headers_enabled=True,
        )
        headers = secure.Secure(
            csp=secure.ContentSecurityPolicy().default_src("'self'"),
            hsts=secure.StrictTransportSecurity().max_age(31536000).include_subdomains(),
            xfo=secure.XFrameOptions().deny(),
            xcto=secure.XContentTypeOptions(),
            referrer=secure.ReferrerPolicy().strict_origin_when_cross_origin(),
        )
        app = FastAPI()
        app.state.limiter = limiter
        app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)  # type: ignore[arg-type]
        bearer = HTTPBearer(auto_error=False)
        cache: dict[str, tuple[float, bytes]] = {}

        async def principal(
            credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
        ) -> dict[str, Any]:
            if credentials is None:
                return {"sub": None, "tier": "anonymous"}
            try:
                claims: dict[str, Any] = jwt.decode(
                    credentials.credentials, secret, algorithms=["HS256"]
                )
            except jwt.PyJWTError:
                raise HTTPException(401, "invalid token") from None
            return claims

        def read_model() -> bytes:
            with contextlib.closing(sqlite3.connect(database)) as db:
                found = db.execute(
                    "SELECT player_id, name, score, rank FROM leaderboard ORDER BY rank LIMIT ?",
                    (ROWS,),
                ).fetchall()
            data = [{"player_id": p, "name": n, "score": s, "rank": r} for p, n, s, r in found]
            return orjson.dumps(data)

        @app.get(PATH)
        async def leaderboard(
            request: Request,
            who: dict[str, Any] = Depends(principal),  # noqa: B008
        ) -> Response:
            hit = cache.get("leaderboard")
            now = time.monotonic()
            if hit is None or hit[0] < now:
                hit = cache["leaderboard"] = (now + 60.0, read_model())
            meta = orjson.dumps({"timestamp": utc_timestamp()})
            body = b'{"success":true,"data":' + hit[1] + b',"meta":' + meta + b"}"
            return Response(body, media_type="application/json")

        @app.middleware("http")
        async def security_headers(request: Request, call_next: Any) -> Response:
            response: Response = await call_next(request)
            await headers.set_headers_async(response)
            return response

        @app.middleware("http")
        async def access_log(request: Request, call_next: Any) -> Response:
            request_id = request.headers.get("x-request-id") or uuid_module.uuid4().hex
            structlog.contextvars.bind_contextvars(request_id=request_id)
            started = time.perf_counter()
            try:
                response: Response = await call_next(request)
            finally:
                structlog.contextvars.clear_contextvars()
            response.headers["x-request-id"] = request_id
            access.info(
                "http.request",
                request_id=request_id,
                method=request.method,
                path=request.url.path,
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
            return response

        app.add_middleware(SlowAPIMiddleware)
        app.add_middleware(GZipMiddleware, minimum_size=500)
        Instrumentator().instrument(app).expose(app, include_in_schema=False)
        return app

    @contextlib.contextmanager
    def uvicorn_server(app: str, *, factory: bool = False) -> Iterator[int]:
        port = free_port()
        # The options ``headwater serve`` passes to uvicorn.run, on the command line.
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--proxy-headers",
            "--no-server-header",
            "--log-level",
            "info",
            *(["--factory"] if factory else []),
        ]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with tempfile.TemporaryFile() as sink:
            process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 30
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        if httpx.get(f"http://127.0.0.1:{port}{PATH}").status_code == 200:
                            break
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("the baseline server did not start")
                    time.sleep(0.05)
                yield port
            finally:
                process.terminate()
                process.wait(10)

    # --- load ---------------------------------------------------------------------------

    def _chunked_end(buffer: bytes, at: int) -> int | None:
        """Where a chunked body starting at ``at`` ends; None while it is incomplete."""
        while True:
            line_end = buffer.find(b"\r\n", at)
            if line_end < 0:
                return None
            size = int(buffer[at:line_end].split(b";")[0], 16)
            at = line_end + 2 + size + 2
            if len(buffer) < at:
                return None
            if size == 0:
                return at

    class KeepAliveClient(asyncio.Protocol):
        """GET after GET on one connection; counts responses. Minimal HTTP/1.1 parsing."""

        def __init__(self, request: bytes, done: asyncio.Future[int], until: float) -> None:
            self.request = request
            self.done = done
            self.until = until
            self.buffer = b""
            self.count = 0
            self.transport: asyncio.Transport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]
            transport.write(self.request)  # type: ignore[attr-defined]

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while True:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self.buffer[:end].lower()
                start = head.find(b"content-length:")
                if start >= 0:
                    length = int(head[start + 15 : head.find(b"\r\n", start)].strip() or 0)
                    if len(self.buffer) < end + 4 + length:
                        return
                    body_end = end + 4 + length
                elif b"transfer-encoding: chunked" in head:
                    # The assembled app's middleware stream the body: no length, chunks.
                    found = _chunked_end(self.buffer, end + 4)
                    if found is None:
                        return
                    body_end = found
                else:
                    body_end = end + 4
                if not head.startswith(b"http/1.1 200"):
                    self.done.set_exception(RuntimeError(head[:40].decode()))
                    return
                self.buffer = self.buffer[body_end:]
                self.count += 1
                assert self.transport is not None
                if time.monotonic() >= self.until:
                    if not self.done.done():
                        self.done.set_result(self.count)
                    return
                self.transport.write(self.request)

        def connection_lost(self, exc: Exception | None) -> None:
            if not self.done.done():
                self.done.set_exception(ConnectionError(f"lost: {exc}"))

    async def load(port: int, connections: int, seconds: float) -> int:
        loop = asyncio.get_running_loop()
        request = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        until = time.monotonic() + seconds
        futures = []
        for _ in range(connections):
            done: asyncio.Future[int] = loop.create_future()
            await loop.create_connection(
                functools.partial(KeepAliveClient, request, done, until), "127.0.0.1", port
            )
            futures.append(done)
        return sum(await asyncio.gather(*futures))

    def load_worker(pipe: Pipe) -> None:
        while True:
            command = pipe.recv()
            if command is None:
                return
            port, connections, seconds = command
            try:
                pipe.send(("ok", uvloop.run(load(port, connections, seconds))))
            except Exception as exc:
                pipe.send(("error", repr(exc)))

    def measure(pipes: list[Pipe], port: int, connections: int, seconds: float) -> float:
        for pipe in pipes:
            pipe.send((port, connections // len(pipes), seconds))
        total = 0
        for pipe in pipes:
            status, value = pipe.recv()
            if status != "ok":
                raise RuntimeError(f"load worker failed: {value}")
            total += value
        return total / seconds

    def run(args: argparse.Namespace, summary: dict[str, Any]) -> None:
        ctx = multiprocessing.get_context("spawn")
        pipes, workers = [], []
        for _ in range(args.workers):
            ours, theirs = ctx.Pipe()
            worker = ctx.Process(target=load_worker, args=(theirs,), daemon=True)
            worker.start()
            pipes.append(ours)
            workers.append(worker)
        try:
            with (
                tempfile.TemporaryDirectory() as tmp,
                serve(
                    f"sqlite:///{Path(tmp) / 'bench.db'}",
                    workdir=Path(tmp),
                    apps=["benchmarks.http:leaderboard_app"],
                    # The load is anonymous, from one address: the anonymous tier (60/min)
                    # would answer 429. Limits are off; the JSON says so.
                    env={"PYTHONPATH": str(REPO), "HEADWATER_RATE_LIMITS": "false"},
                ) as node,
                serve(
                    f"sqlite:///{Path(tmp) / 'limited.db'}",
                    workdir=Path(tmp),
                    apps=["benchmarks.http:leaderboard_app", "benchmarks.http:generous_limits"],
                    env={"PYTHONPATH": str(REPO)},
                ) as limited_node,
                uvicorn_server("benchmarks.http:bare_app") as bare_port,
                uvicorn_server("benchmarks.http:fastapi_app") as fastapi_port,
                uvicorn_server("benchmarks.http:_build_assembled", factory=True) as assembled_port,
            ):
                body = httpx.get(f"{node.url}{PATH}").json()
                if not body["success"] or len(body["data"]) != ROWS:
                    raise RuntimeError(f"unexpected response: {body}")
                limited = httpx.get(f"{limited_node.url}{PATH}")
                if "ratelimit-limit" not in limited.headers:
                    raise RuntimeError("the limited node does not limit")
                assembled = httpx.get(f"http://127.0.0.1:{assembled_port}{PATH}")
                if assembled.json()["data"] != body["data"]:
                    raise RuntimeError("the assembled app serves other rows")
                ports = {
                    "headwater": node.port,
                    "bare": bare_port,
                    "fastapi": fastapi_port,
                    "headwater_limited": limited_node.port,
                    "assembled": assembled_port,
                }
                for port in ports.values():  # warm-up: caches filled, code paths hot
                    measure(pipes, port, args.connections, 1.0)
                rates: dict[str, list[float]] = {name: [] for name in ports}
                for repeat in range(args.repeats):
                    names = list(ports)
                    order = names[repeat % len(names) :] + names[: repeat % len(names)]
                    for name in order:
                        rates[name].append(
                            measure(pipes, ports[name], args.connections, args.seconds)
                        )
                        log(
                            f"  {name}: repeat {repeat + 1}/{args.repeats}: "
                            f"{rates[name][-1]:,.0f} requests/s"
                        )
        finally:
            for pipe in pipes:
                pipe.send(None)
            for worker in workers:
                worker.join(10)
        ratios = [h / b for h, b in zip(rates["headwater"], rates["bare"], strict=True)]
        ceiling = [f / b for f, b in zip(rates["fastapi"], rates["bare"], strict=True)]
        versus = [
            h / a for h, a in zip(rates["headwater_limited"], rates["assembled"], strict=True)
        ]
        summary.update(
            http_cached_ratio=round(statistics.median(ratios), 2),
            ratio_per_repeat=[round(r, 2) for r in ratios],
            http_vs_assembled_fastapi_ratio=round(statistics.median(versus), 2),
            vs_assembled_per_repeat=[round(r, 2) for r in versus],
            headwater_limited_rps=round(statistics.median(rates["headwater_limited"])),
            assembled_rps=round(statistics.median(rates["assembled"])),
            fastapi_plain_ratio=round(statistics.median(ceiling), 2),
            fastapi_plain_rps=round(statistics.median(rates["fastapi"])),
            headwater_rps=round(statistics.median(rates["headwater"])),
            bare_rps=round(statistics.median(rates["bare"])),
            headwater_rps_samples=[round(r) for r in rates["headwater"]],
            bare_rps_samples=[round(r) for r in rates["bare"]],
        )

    def main(argv: list[str] | None = None) -> int:
        parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
        parser.add_argument("--quick", action="store_true", help="shorter runs, under a minute")
        parser.add_argument("--connections", type=int, default=64)
        parser.add_argument("--workers", type=int, default=2, help="load processes")
        args = parser.parse_args(argv)
        args.seconds = 3.0 if args.quick else 10.0
        args.repeats = 3 if args.quick else 5
        started = time.perf_counter()
        summary: dict[str, Any] = {
            "benchmark": "http",
            "quick": args.quick,
            "route": f"GET {PATH}: read-model query behind cache.get_or_compute (REALTIME "
            "policy: L1 hit), cached pre-rendered, in the response envelope",
            "headwater_stack": "full middleware (security, cache, request id, headers...); "
            "rate limits off (one anonymous client address would get 429)",
            "connections": args.connections,
            "seconds_per_run": args.seconds,
            "repeats": args.repeats,
            "cpus": os.cpu_count(),
        }
        try:
            run(args, summary)
        except Exception as exc:
            log(f"FAILED: {exc!r}")
            summary["error"] = f"{type(exc).__name__}: {exc}"
        summary["target"] = TARGET
        summary["assembled_target"] = ASSEMBLED_TARGET
        summary["met"] = (summary.get("http_cached_ratio") or 0) >= TARGET
        summary["assembled_met"] = (
            summary.get("http_vs_assembled_fastapi_ratio") or 0
        ) >= ASSEMBLED_TARGET
        summary["seconds"] = round(time.perf_counter() - started, 1)
        emit_summary(summary)
        return 0 if "error" not in summary else 1

    if __name__ == "__main__":
        sys.exit(main())
