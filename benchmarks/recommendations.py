"""Recommendations: the item-item projection's throughput, serving latency, freshness,
and the offline quality of both models on MovieLens latest-small.

Run: ``python benchmarks/recommendations.py [--quick] [--postgres-url URL]``. Progress
goes to stderr; the last line of stdout is one JSON object.

* ``interactions_per_second_<db>``: MovieLens training interactions (timestamp order)
  already in the log; the clock runs while a ``ProjectionRunner`` catches up, i.e.
  the co-occurrence counts are updated in SQL, committed with the checkpoint. SQLite
  is a WAL file with ``synchronous=FULL``. Baselines in the same run, on the same
  interactions: the in-memory incremental model (``ItemItemModel``, dicts, no
  durability: the ceiling of the counting itself) and a from-scratch numpy batch
  computation (``batch_counts``, what a periodic retrain costs per interaction).
* ``neighbours``: how many strongest neighbours per item the projection keeps and a
  request reads (``rec_neighbours``).
* ``recommend_p95_ms``: ``Recommender.recommend`` without a cache for random users of
  that store (SQLite), k=10: what a cache miss costs. ``recommend_cached_p95_ms``:
  with the cache.
* ``freshness_seconds_p99``: the runner and the cache running; a user buys the item
  on top of their list; the clock stops when their (cached) list no longer shows it.
* offline: ``item_item_*`` (the incremental model as served), ``als_*`` (the extra),
  ``popularity_*`` (the baseline), per-user 80/20 split, seed 42.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from _common import log

from headwater.cache import Cache
from headwater.eventstore import EventStore, create_event_store
from headwater.projections import ProjectionRunner
from headwater.recommendations import (
    DEFAULT_NEIGHBOURS,
    DEFAULT_WINDOW,
    Interaction,
    InteractionTracker,
    ItemItemModel,
    Recommender,
    batch_counts,
    item_item_projection,
)
from headwater.recommendations._evaluation import (
    Split,
    evaluate_als,
    evaluate_item_item,
    evaluate_popularity,
    movielens_split,
)
from headwater.recommendations._tables import ITEM_ITEM_TABLES

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@contextlib.contextmanager
def pg_schema(url: str) -> Iterator[str]:
    name = f"bench_recs_{int(time.time())}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def project(store: EventStore, rows: list[tuple[str, str, float]]) -> float:
    """Interactions per second of the projection catching up on ``rows``."""
    await InteractionTracker(store).track_many([Interaction(u, i, "rate", w) for u, i, w in rows])
    runner = ProjectionRunner(store, item_item_projection())
    started = time.perf_counter()
    await runner.catch_up()
    return len(rows) / (time.perf_counter() - started)


async def latency(store: EventStore, users: list[str], cache: Cache | None) -> float:
    recommender = Recommender(store, cache=cache)
    timings = []
    for user in users:
        started = time.perf_counter()
        await recommender.recommend(user, k=10)
        timings.append((time.perf_counter() - started) * 1000)
    return p(timings, 0.95)


async def freshness(store: EventStore, users: list[str]) -> float:
    cache = Cache()

    async def invalidate(tables: object) -> None:
        await cache.read_model_changed(*(t.name for t in ITEM_ITEM_TABLES))

    recommender = Recommender(store, cache=cache)
    tracker = InteractionTracker(store)
    delays = []
    async with ProjectionRunner(store, item_item_projection(), on_commit=invalidate):
        for user in users:
            before = await recommender.recommend(user, k=10)
            if not before.items:
                continue
            bought = before.items[0].item_id
            started = time.perf_counter()
            await tracker.track(Interaction(user, bought, "purchase"))
            # Polling is the measurement: what a client re-asking would see.
            while bought in {r.item_id for r in (await recommender.recommend(user, k=10)).items}:  # noqa: ASYNC110
                await asyncio.sleep(0.002)
            delays.append(time.perf_counter() - started)
    return p(delays, 0.99)


async def backend(
    url: str,
    name: str,
    rows: list[tuple[str, str, float]],
    sizes: dict[str, int],
    out: dict[str, Any],
) -> None:
    store = await create_event_store(url, migrate=True)
    try:
        rate = await project(store, rows)
        out[f"interactions_per_second_{name}"] = round(rate, 1)
        log(f"{name}: {rate:.0f} interactions/s into the projection")
        if name == "sqlite":
            users = sorted({u for u, _, _ in rows})
            sample = [random.Random(7).choice(users) for _ in range(sizes["requests"])]
            out["recommend_p95_ms"] = round(await latency(store, sample, None), 2)
            out["recommend_cached_p95_ms"] = round(await latency(store, sample, Cache()), 3)
            log(f"recommend p95 {out['recommend_p95_ms']} ms (cache miss)")
            trial = sample[: sizes["freshness"]]
            out["freshness_seconds_p99"] = round(await freshness(store, trial), 3)
            log(f"freshness p99 {out['freshness_seconds_p99']} s")
    finally:
        await store.close()


def baselines(rows: list[tuple[str, str, float]], out: dict[str, Any]) -> None:
    started = time.perf_counter()
    model = ItemItemModel()
    for user, item, weight in rows:
        model.apply("", user, item, weight)
    out["in_memory_interactions_per_second"] = round(len(rows) / (time.perf_counter() - started), 1)
    started = time.perf_counter()
    batch_counts([("", u, i, w) for u, i, w in rows], window=DEFAULT_WINDOW)
    out["batch_numpy_seconds"] = round(time.perf_counter() - started, 3)
    out["batch_numpy_interactions_per_second"] = round(
        len(rows) / (time.perf_counter() - started), 1
    )


def offline(split: Split, out: dict[str, Any]) -> None:
    item_item = evaluate_item_item(
        split, window=DEFAULT_WINDOW, history_limit=DEFAULT_WINDOW, neighbours=DEFAULT_NEIGHBOURS
    )
    popularity = evaluate_popularity(split)
    als = evaluate_als(split)
    for name, metrics in (("item_item", item_item), ("als", als), ("popularity", popularity)):
        out[f"{name}_p_at_10"] = round(metrics.precision, 4)
        out[f"{name}_ndcg_at_10"] = round(metrics.ndcg, 4)
        out[f"{name}_coverage"] = round(metrics.coverage, 4)
    log(f"offline: item-item P@10 {item_item.precision:.3f}, ALS {als.precision:.3f}")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = (
        {"interactions": 1500, "requests": 100, "freshness": 20}
        if args.quick
        else {"interactions": 20000, "requests": 1000, "freshness": 100}
    )
    split = movielens_split()
    rows = split.train[: sizes["interactions"]]
    out: dict[str, Any] = {
        "quick": args.quick,
        "interactions": len(rows),
        "window": DEFAULT_WINDOW,
        "neighbours": DEFAULT_NEIGHBOURS,
    }
    baselines(rows, out)
    with tempfile.TemporaryDirectory() as tmp:
        await backend(f"sqlite:///{Path(tmp) / 'recs.db'}", "sqlite", rows, sizes, out)
    with pg_schema(args.postgres_url) as schema:
        await backend(f"{args.postgres_url}?schema={schema}", "postgres", rows, sizes, out)
    offline(split, out)
    out["projection_vs_in_memory_sqlite"] = round(
        out["interactions_per_second_sqlite"] / out["in_memory_interactions_per_second"], 4
    )
    out["targets_met"] = {
        "recommend_p95_ms<=20": out["recommend_p95_ms"] <= 20,
        "freshness_seconds_p99<=1": out["freshness_seconds_p99"] <= 1,
        "item_item_p_at_10>=0.25": out["item_item_p_at_10"] >= 0.25,
        "als_p_at_10>=0.28": out["als_p_at_10"] >= 0.28,
    }
    return out


def main(argv: list[str] | None = None) -> int:
    import json

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HEADWATER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
    )
    args = parser.parse_args(argv)
    out = asyncio.run(run(args))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
