"""The production layer's costs: a cache hit, and rate limiting under load on real uvicorn.

Run: ``python benchmarks/production.py [--quick] [--redis-url URL] [--skip-jobs]``.
Progress goes to stderr; the last line of stdout is one JSON object.

* ``cache_hit_overhead_us``: microseconds a cache hit adds per call. One process,
  one asyncio loop: ``await cache.get_or_compute(key, query)`` on an L1 hit (the
  tenant-scoped key, the LRU touch, the tag and expiry checks, the XFetch draw, the
  counters) minus ``await query()`` called directly, where ``query`` returns a
  prepared value (so the difference is the cache's own cost, not the query's).
  For context: the same through ``@cached`` (argument binding and key formatting
  added), an L2 hit (Redis round trip, L1 off), and a real read-model query (an
  SQLite ``SELECT`` with an aggregate over 10,000 rows) that a hit replaces.
* ``ratelimit_overhead_ratio``: requests per second of a rate-limited endpoint
  divided by the same endpoint without the limiter (target 0.9). Each side is
  ``create_app`` (Headwater's whole middleware stack) on its own uvicorn process
  (one worker, no access log); the limited side adds ``RateLimitModule`` with
  in-memory counters (the embedded default): a tier limit, an endpoint limit and a
  concurrency slot per request, and the ``RateLimit-*`` headers. 64 keep-alive
  connections from a raw-socket client in this process (cheaper per request than
  any HTTP client library, so the server is the bottleneck), each request from one
  of 1,000 client addresses (``X-Forwarded-For`` from the trusted loopback proxy),
  so counters are spread as real traffic spreads them and nothing is refused (a
  429 would be cheaper than a 200 and flatter the ratio; any non-200 fails the run).
  With ``--redis-url`` the limited side is also run with Redis counters
  (``ratelimit_overhead_ratio_redis``, target 0.8: windows spend hits reserved in
  batches, and the concurrency leases of all requests in flight share a script call).
* ``jobs_per_second``: taken from ``benchmarks/jobs.py --quick`` when that benchmark
  exists (its own JSON, key ``jobs_per_second``), else null.

Sides take turns repeat by repeat (``_common.contest``); rates are medians.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, ClassVar

import orjson
from fastapi import APIRouter, FastAPI

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import Lineup, Results, contest, emit_summary, log, ratio  # noqa: E402

from headwater.app import create_app  # noqa: E402
from headwater.modules import Module  # noqa: E402
from headwater.ratelimit import (  # noqa: E402
    EndpointLimit,
    RateLimitConfig,
    RateLimitModule,
    TierLimit,
)
from headwater.settings import Settings  # noqa: E402

TARGETS = {"ratelimit_overhead_ratio": 0.9, "ratelimit_overhead_ratio_redis": 0.8}
CONNECTIONS = 64
ADDRESSES = 1000
PATH = "/bench/items"

# --- the app each uvicorn side serves (imported by the server processes) ---------------

router = APIRouter()
ITEMS = [{"id": i, "name": f"item {i}"} for i in range(10)]


@router.get(PATH)
async def items() -> dict[str, Any]:
    return {"success": True, "data": ITEMS}


class BenchRoutes(Module):
    name: ClassVar[str] = "bench"

    def routers(self) -> Sequence[APIRouter]:
        return (router,)


LIMITS = RateLimitConfig(
    tiers={"anonymous": TierLimit(per_minute=1000, concurrent=50)},
    endpoints=(EndpointLimit(f"GET {PATH}", 1000, period=60),),
)


def build_plain() -> FastAPI:
    # Without any limiter: ``Settings()`` alone would give the core one (the framework's
    # default tiers), and the ratio would compare a limiter with a limiter.
    return create_app(Settings(rate_limits=False), apps=[BenchRoutes()])


def build_limited() -> FastAPI:
    return create_app(Settings(), apps=[BenchRoutes()], plugins=[RateLimitModule(LIMITS)])


# --- cache hit overhead -----------------------------------------------------------------


async def per_call_us(fn: Any, calls: int) -> float:
    best = float("inf")
    for _ in range(5):  # best of 5: the noise on a shared machine only ever adds
        started = time.perf_counter()
        for _ in range(calls):
            await fn()
        best = min(best, time.perf_counter() - started)
    return best / calls * 1e6


async def cache_figures(results: Results, quick: bool, redis_url: str | None) -> None:
    from headwater.cache import FREQUENT, Cache, CachePolicy, cached

    calls = 20_000 if quick else 100_000
    value = {"guests": ITEMS}

    async def query() -> dict[str, Any]:
        return value

    cache = Cache()
    await cache.get_or_compute("k", query, policy=FREQUENT)

    @cached(cache, key="guests:{event_id}")
    async def guests(event_id: str) -> dict[str, Any]:
        return value

    direct = await per_call_us(query, calls)
    hit = await per_call_us(lambda: cache.get_or_compute("k", query), calls)
    decorated = await per_call_us(lambda: guests("e1"), calls)
    results.facts.update(
        direct_call_us=round(direct, 3),
        cache_hit_us=round(hit, 3),
        cached_decorator_hit_us=round(decorated, 3),
        cache_hit_overhead_us=round(hit - direct, 3),
    )
    log(f"cache: direct {direct:.2f} us, L1 hit {hit:.2f} us, @cached hit {decorated:.2f} us")

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE guests (id INTEGER PRIMARY KEY, event TEXT, checked_in INTEGER)")
    db.executemany(
        "INSERT INTO guests (event, checked_in) VALUES (?, ?)",
        [(f"e{i % 10}", i % 3 == 0) for i in range(10_000)],
    )

    async def read_model() -> list[Any]:
        sql = "SELECT count(*), sum(checked_in) FROM guests WHERE event = ?"
        return db.execute(sql, ("e1",)).fetchall()

    results.facts["read_model_query_us"] = round(await per_call_us(read_model, calls // 20), 1)
    if redis_url:
        l2 = Cache.from_url(redis_url, namespace=f"hwbench:{os.getpid()}")
        l2_only = CachePolicy("bench", ttl=600, use_l1=False)
        try:
            await l2.get_or_compute("k", query, policy=l2_only)
            us = await per_call_us(lambda: l2.get_or_compute("k", query, policy=l2_only), 500)
            results.facts["cache_l2_hit_us"] = round(us, 1)
        except Exception as exc:
            results.errors["cache_l2_hit_us"] = f"{type(exc).__name__}: {exc}"
        finally:
            await l2.delete("k")
            await l2.aclose()


# --- rate limit overhead under load --------------------------------------------------------


def free_port() -> int:
    from headwater.testing._server import free_port as pick

    return pick()


@contextmanager
def uvicorn_side(factory: str, workdir: Path, env: dict[str, str]) -> Iterator[int]:
    port = free_port()
    code = (
        "import uvicorn; uvicorn.run("
        f"'production:{factory}', factory=True, port={port}, access_log=False, "
        "log_level='warning', proxy_headers=True)"
    )
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        "HEADWATER_DATABASE_URL": f"sqlite:///{workdir / f'{factory}-{port}.db'}",
        "HEADWATER_DATA_DIR": str(workdir),
        "HEADWATER_SECRET_KEY": "bench-secret",
        "HEADWATER_HSTS": "false",
        **env,
    }
    log_file = (workdir / f"{factory}-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", code], env=environment, stdout=log_file, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                import httpx

                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{factory} did not start") from None
            time.sleep(0.05)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log_file.close()


async def load(port: int, seconds: float) -> tuple[int, float]:
    """Keep-alive GETs on CONNECTIONS connections for ``seconds``; (requests, seconds)."""
    stop = time.perf_counter() + seconds
    done = 0
    statuses: dict[int, int] = {}

    async def connection(index: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = index
        try:
            while time.perf_counter() < stop:
                n += CONNECTIONS
                ip = f"10.{n % ADDRESSES // 250}.{n % 250}.1"
                writer.write(
                    f"GET {PATH} HTTP/1.1\r\nHost: bench\r\nX-Forwarded-For: {ip}\r\n\r\n".encode()
                )
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                statuses[status] = statuses.get(status, 0) + 1
                done += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection(i) for i in range(CONNECTIONS)))
    elapsed = time.perf_counter() - started
    if set(statuses) != {200}:
        raise RuntimeError(f"the load got non-200 answers: {statuses}")
    return done, elapsed


async def ratelimit_figures(
    results: Results, quick: bool, redis_url: str | None, workdir: Path
) -> None:
    seconds, repeats = (1.5, 5) if quick else (5.0, 7)
    sides = {"plain": ("build_plain", {}), "limited": ("build_limited", {})}
    if redis_url:
        sides["limited_redis"] = ("build_limited", {"HEADWATER_REDIS_URL": redis_url})
    with ExitStack() as stack:
        ports = {}
        for name, (factory, env) in sides.items():
            with results.guard(f"{name}_rps"):
                ports[name] = stack.enter_context(uvicorn_side(factory, workdir, env))
        lineup = Lineup()
        for name, port in ports.items():
            lineup.add(
                f"{name}_rps",
                lambda p=port: load(p, seconds),
                warmup=lambda p=port: load(p, 0.5),
            )
        await contest(results, lineup, repeats)


def jobs_figure(results: Results, skip: bool) -> None:
    script = HERE / "jobs.py"
    if skip or not script.exists():
        results.facts["jobs_per_second"] = None
        return
    try:
        out = subprocess.run(
            [sys.executable, str(script), "--quick"],
            capture_output=True,
            timeout=120,
            check=True,
        )
        summary = orjson.loads(out.stdout.strip().splitlines()[-1])
        results.facts["jobs_per_second"] = summary.get("jobs_per_second")
    except Exception as exc:
        results.facts["jobs_per_second"] = None
        results.errors["jobs_per_second"] = f"{type(exc).__name__}: {exc}"


def summarize(results: Results, quick: bool, seconds: float) -> dict[str, Any]:
    plain = results.get("plain_rps")
    ratios = {
        "ratelimit_overhead_ratio": ratio(results.get("limited_rps"), plain),
        "ratelimit_overhead_ratio_redis": ratio(results.get("limited_redis_rps"), plain),
    }
    met = {k: (ratios.get(k) or 0.0) >= t for k, t in TARGETS.items()}
    spread = {
        name: round(statistics.pstdev(s) / statistics.mean(s), 3)
        for name, s in results.samples.items()
        if len(s) > 1
    }
    facts = dict(results.facts)
    return {
        "cache_hit_overhead_us": facts.pop("cache_hit_overhead_us", None),
        "ratelimit_overhead_ratio": ratios["ratelimit_overhead_ratio"],
        "jobs_per_second": facts.pop("jobs_per_second", None),
        **facts,
        **{k: v for k, v in results.rates.items()},
        "ratelimit_overhead_ratio_redis": ratios["ratelimit_overhead_ratio_redis"],
        "samples_rps": results.samples,
        "sample_spread": spread,
        "targets": TARGETS,
        "met": met,
        "errors": results.errors,
        "quick": quick,
        "seconds": round(seconds, 1),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    parser.add_argument("--redis-url", default=os.environ.get("HEADWATER_BENCH_REDIS_URL"))
    parser.add_argument("--skip-jobs", action="store_true", help="do not run jobs.py")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace, results: Results, workdir: Path) -> None:
    with results.guard("cache_hit_overhead_us"):
        await cache_figures(results, args.quick, args.redis_url)
    await ratelimit_figures(results, args.quick, args.redis_url, workdir)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = Results()
    started = time.perf_counter()
    status = 0
    with tempfile.TemporaryDirectory(prefix="hw-bench-") as tmp:
        try:
            asyncio.run(run(args, results, Path(tmp)))
        except (asyncio.CancelledError, KeyboardInterrupt):
            results.errors["run"] = "interrupted before the end"
            status = 1
    jobs_figure(results, args.skip_jobs)
    emit_summary(summarize(results, args.quick, time.perf_counter() - started))
    return status


if __name__ == "__main__":
    sys.exit(main())
