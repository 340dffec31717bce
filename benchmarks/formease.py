"""FormEase's admin read models against the seed's live SQL, on the same data.

Run: ``python benchmarks/formease.py [--quick] [--database-url URL]`` (default: a
fresh schema on ``HEADWATER_TEST_POSTGRES_URL``). Progress goes to stderr; the last
line of stdout is one JSON object.

* Data: ``apps.formease.demo.seed`` writes users, forms and submissions spread over
  90 days as events; the inline projections fill the read models as they commit.
  Full run: 10,000 users, 1,000,000 submissions; ``--quick``: 1,000 and 100,000.
* Baseline: the seed document's normalised tables (``users``, ``forms``,
  ``submissions``, with the indexes it recommends), filled from the same rows, and
  its live queries: ``getUserStats`` (with ``LIMIT 50``, what one page needs) and
  ``getFormMetrics('30d')``.
* ``user_stats_p50_ms``: one page (50 users, newest first) of the user-stats read
  model with 30-day recent submissions; ``form_metrics_p50_ms``: 30 days of daily
  metrics with median and p90 completion. Ratios: baseline p50 / read model p50.
  ``*_cached_p50_ms``: the same reads through the cache as the routes make them
  (seed 002's ``COMPUTED``: a hit until a write to their tables drops it);
  ``*_cache_ratio``: read model p50 / cached p50.
* ``export_rows_per_second``: every submission through the CSV export's generator
  (keyset batches, CSV encoding), as the export route streams them.
* Respondents' burst (``burst_*``): 240 submissions to one form, 16 in flight at a
  time, through the FormEase service on the same store; baseline: the same form's
  submissions sent one at a time (``sequential_p50_ms``). ``burst_p99_over_median``
  (target <= 5) says whether respondents wait on each other; ``burst_errors`` must
  be 0. ``--burst-only`` skips the seed and the read-model timings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.formease import queries
from apps.formease.commands import EditForm
from apps.formease.demo import seed
from apps.formease.domain.forms import FormId
from apps.formease.domain.users import Plan, UserRole
from apps.formease.exports import csv_stream
from apps.formease.projections import FORMS, PROJECTIONS, SUBMISSIONS, USERS
from apps.formease.service import FormEase
from headwater.cache import Cache
from headwater.domain import CommandContext
from headwater.eventstore import EventStore, create_event_store
from headwater.projections import attach_inline

TENANT = "bench-tenant"
BASELINE_SCHEMA = """
CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT, plan TEXT, created_at TIMESTAMPTZ,
                    last_login TIMESTAMPTZ);
CREATE TABLE forms (id TEXT PRIMARY KEY, user_id TEXT, created_at TIMESTAMPTZ);
CREATE TABLE submissions (id TEXT PRIMARY KEY, form_id TEXT, created_at TIMESTAMPTZ,
                          completion_time INTEGER);
"""
BASELINE_INDEXES = """
CREATE INDEX idx_users_plan_active ON users(plan, last_login);
CREATE INDEX idx_forms_user_created ON forms(user_id, created_at);
CREATE INDEX idx_submissions_form_date ON submissions(form_id, created_at);
ANALYZE;
"""
#: The seed's getUserStats, verbatim but for one page.
USER_STATS_SQL = """
SELECT u.id, u.email, u.plan, u.created_at,
       COUNT(DISTINCT f.id) as form_count,
       COUNT(DISTINCT s.id) as submission_count,
       SUM(CASE WHEN s.created_at >= NOW() - INTERVAL '30 days' THEN 1 ELSE 0 END)
         as recent_submissions
FROM users u
LEFT JOIN forms f ON u.id = f.user_id
LEFT JOIN submissions s ON f.id = s.form_id
WHERE 1=1
GROUP BY u.id, u.email, u.plan, u.created_at
ORDER BY u.created_at DESC
LIMIT 50
"""
#: The seed's getFormMetrics('30d'), verbatim.
FORM_METRICS_SQL = """
WITH daily_stats AS (
    SELECT DATE(created_at) as date, COUNT(*) as form_count,
           COUNT(DISTINCT user_id) as unique_users
    FROM forms WHERE created_at >= NOW() - INTERVAL '30 days'
    GROUP BY DATE(created_at)
),
submission_stats AS (
    SELECT DATE(s.created_at) as date, COUNT(*) as submission_count,
           AVG(s.completion_time) as avg_completion_time
    FROM submissions s JOIN forms f ON s.form_id = f.id
    WHERE s.created_at >= NOW() - INTERVAL '30 days'
    GROUP BY DATE(s.created_at)
)
SELECT COALESCE(ds.date, ss.date) as date,
       COALESCE(ds.form_count, 0) as forms_created,
       COALESCE(ds.unique_users, 0) as unique_users,
       COALESCE(ss.submission_count, 0) as submissions,
       COALESCE(ss.avg_completion_time, 0) as avg_completion_time
FROM daily_stats ds FULL OUTER JOIN submission_stats ss ON ds.date = ss.date
ORDER BY date ASC
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def p50_ms(call: Callable[[], Awaitable[Any]], repeats: int) -> float:
    await call()  # warm caches and plans
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 3)


async def build_baseline(store: EventStore) -> None:
    """The seed's tables, filled from the same rows the read models were built from."""
    async with store.transaction() as tx:
        await tx.execute_script(BASELINE_SCHEMA)
        await tx.execute(
            f"INSERT INTO users SELECT user_id, email, plan, created_at, last_active_at "
            f"FROM {USERS.ref} WHERE tenant_id = ?",
            [TENANT],
        )
        await tx.execute(
            f"INSERT INTO forms SELECT form_id, owner_id, created_at FROM {FORMS.ref} "
            f"WHERE tenant_id = ?",
            [TENANT],
        )
        await tx.execute(
            f"INSERT INTO submissions SELECT submission_id, form_id, submitted_at, completion_ms "
            f"FROM {SUBMISSIONS.ref} WHERE tenant_id = ?",
            [TENANT],
        )
        await tx.execute_script(BASELINE_INDEXES)


async def export_rate(store: EventStore) -> float:
    started, rows = time.perf_counter(), 0
    source = queries.iter_submissions(store, TENANT, queries.SubmissionFilters())
    async for chunk in csv_stream(source, []):  # the fixed columns (no answer fields)
        rows += chunk.count(b"\n")
    return round((rows - 1) / (time.perf_counter() - started), 1)


BURST, AT_ONCE, SEQUENTIAL = 240, 16, 60
BURST_TENANT = "bench-burst"
NAME_FIELD = {"type": "text", "label": "Name", "required": True, "order": 1, "max_length": 50}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def burst(store: EventStore) -> dict[str, Any]:
    """240 respondents of one form, 16 submitting at a time; then 60 one at a time."""
    service = FormEase(store, "bench-secret")

    def ctx() -> CommandContext:
        return CommandContext(actor="bench", tenant_id=BURST_TENANT)

    email = f"burst-{uuid.uuid4().hex[:8]}@example.org"
    owner = await service.register_user(ctx(), email, "Burst", Plan.PREMIUM, UserRole.OWNER)
    form_id = await service.create_form(ctx(), owner, "Burst")
    edit = EditForm(form_id=FormId(form_id), set_fields={"name": NAME_FIELD})
    await service.edit_form(ctx(), edit)
    await service.publish(ctx(), form_id)

    async def open_tokens(n: int) -> list[str]:
        return [(await service.open_form(BURST_TENANT, None, form_id))["token"] for _ in range(n)]

    errors: list[str] = []

    async def timed(token: str) -> float:
        started = time.perf_counter()
        try:
            await service.submit(BURST_TENANT, None, token, {"name": "Ada"})
        except Exception as exc:  # counted, not raised: the figure is how many fail
            errors.append(type(exc).__name__)
        return (time.perf_counter() - started) * 1000

    tokens = await open_tokens(BURST)
    gate = asyncio.Semaphore(AT_ONCE)

    async def gated(token: str) -> float:
        async with gate:
            return await timed(token)

    started = time.perf_counter()
    burst_ms = await asyncio.gather(*(gated(t) for t in tokens))
    burst_seconds = time.perf_counter() - started
    sequential_ms = [await timed(t) for t in await open_tokens(SEQUENTIAL)]
    median = statistics.median(burst_ms)
    p99 = percentile(burst_ms, 0.99)
    return {
        "burst_submissions": BURST,
        "burst_concurrency": AT_ONCE,
        "burst_errors": len(errors),
        "burst_seconds": round(burst_seconds, 2),
        "burst_p50_ms": round(median, 2),
        "burst_p99_ms": round(p99, 2),
        "burst_max_ms": round(max(burst_ms), 2),
        "burst_p99_over_median": round(p99 / median, 2),
        "sequential_p50_ms": round(statistics.median(sequential_ms), 2),
    }


async def run_burst_only(url: str) -> dict[str, Any]:
    async with await create_event_store(url, migrate=True) as store:
        await attach_inline(store, PROJECTIONS)
        figures = await burst(store)
    return {
        "backend": url.split(":", 1)[0],
        **figures,
        "targets_met": {"burst_p99_over_median": figures["burst_p99_over_median"] <= 5},
    }


async def run(url: str, users: int, submissions: int, repeats: int) -> dict[str, Any]:
    async with await create_event_store(url, migrate=True) as store:
        await attach_inline(store, PROJECTIONS)
        log(f"seeding {users} users and {submissions} submissions on {store.dialect}")
        started = time.perf_counter()
        await seed(
            store, TENANT, users=users, forms_per_user=2, submissions=submissions, batch=1000
        )
        seeded = time.perf_counter() - started
        log(f"seeded in {seeded:.1f}s; building the baseline tables")
        await build_baseline(store)
        end = datetime.now(UTC).date()
        start = end - timedelta(days=29)

        async def read_model_users() -> Any:
            return await queries.user_stats(
                store, TENANT, queries.UserFilters(), after=None, limit=50
            )

        async def read_model_metrics() -> Any:
            return await queries.form_metrics(store, TENANT, start, end)

        # The routes read through the node's cache (COMPUTED): a repeat is a hit until a
        # write to the figures' tables drops it (apps.formease.caching).
        cache = Cache()

        async def cached_users() -> Any:
            return await queries.user_stats(
                store, TENANT, queries.UserFilters(), after=None, limit=50, cache=cache
            )

        async def cached_metrics() -> Any:
            return await queries.form_metrics(store, TENANT, start, end, cache=cache)

        async def live_users() -> Any:
            return await store.fetchall(USER_STATS_SQL)

        async def live_metrics() -> Any:
            return await store.fetchall(FORM_METRICS_SQL)

        log("timing queries")
        user_stats = await p50_ms(read_model_users, repeats)
        form_metrics = await p50_ms(read_model_metrics, repeats)
        cached_user_stats = await p50_ms(cached_users, repeats)
        cached_form_metrics = await p50_ms(cached_metrics, repeats)
        live_user_stats = await p50_ms(live_users, max(3, repeats // 10))
        live_form_metrics = await p50_ms(live_metrics, max(3, repeats // 10))
        log("timing the export")
        export = await export_rate(store)
        log(f"a burst of {BURST} respondents, {AT_ONCE} at a time")
        burst_figures = await burst(store)
    return {
        "backend": url.split(":", 1)[0],
        "users": users,
        "submissions": submissions,
        "seed_seconds": round(seeded, 1),
        "user_stats_p50_ms": user_stats,
        "form_metrics_p50_ms": form_metrics,
        "user_stats_cached_p50_ms": cached_user_stats,
        "form_metrics_cached_p50_ms": cached_form_metrics,
        "user_stats_cache_ratio": round(user_stats / cached_user_stats, 1),
        "form_metrics_cache_ratio": round(form_metrics / cached_form_metrics, 1),
        "baseline_user_stats_p50_ms": live_user_stats,
        "baseline_form_metrics_p50_ms": live_form_metrics,
        "user_stats_ratio": round(live_user_stats / user_stats, 2),
        "form_metrics_ratio": round(live_form_metrics / form_metrics, 2),
        "export_rows_per_second": export,
        **burst_figures,
        "targets_met": {
            "user_stats_ratio": live_user_stats / user_stats >= 10,
            "form_metrics_ratio": live_form_metrics / form_metrics >= 10,
            "burst_p99_over_median": burst_figures["burst_p99_over_median"] <= 5,
        },
    }


def fresh_postgres_schema(server: str) -> tuple[str, Callable[[], None]]:
    import psycopg

    schema = f"hw_bench_fe_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    return f"{server}?schema={schema}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--submissions", type=int, default=None)
    parser.add_argument("--burst-only", action="store_true", help="only the respondents' burst")
    args = parser.parse_args()
    users = args.users or (1_000 if args.quick else 10_000)
    submissions = args.submissions or (100_000 if args.quick else 1_000_000)
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    url = args.database_url
    if url is None:
        server = os.environ.get(
            "HEADWATER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        )
        url, cleanup = fresh_postgres_schema(server)
    try:
        if args.burst_only:
            result = asyncio.run(run_burst_only(url))
        else:
            result = asyncio.run(run(url, users, submissions, repeats=20 if args.quick else 50))
    finally:
        cleanup()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
