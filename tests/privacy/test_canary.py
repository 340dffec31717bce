"""The canary: a person's name and email are gone from every file, table, cache, log and backup.

A unique string is registered as a person's name and email, used everywhere the core
keeps data (the log, an audit read and CSV export, the L1 and Redis caches, the log
output, a shipped backup), then the person is erased and every one of those places is
scanned for the string. Zero hits are allowed, within 60 s of the erasure.
"""

from __future__ import annotations

import io
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
import redis.asyncio

from headwater.backup._directory import DirectoryTarget
from headwater.backup._shipper import Shipper, load_manifest
from headwater.backup.restore import fetch_rows
from headwater.cache import Cache
from headwater.domain import Repository, default_registry
from headwater.eventstore import EventStore, create_event_store
from headwater.eventstore._factory import postgres_options
from headwater.privacy import AuditTrail, Eraser, PersonalDataCipher, SubjectKeys, to_csv
from headwater.privacy._listeners import CacheEraser, subject_tag
from tests.privacy.model import Person, PersonId

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite-file", "postgres"])
async def canary_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[EventStore, str]]:
    if request.param == "sqlite-file":
        url = f"sqlite:///{tmp_path / 'events.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    store = await create_event_store(url, migrate=True)
    try:
        yield store, url
    finally:
        await store.close()


def _log_capture() -> tuple[io.StringIO, logging.Handler]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    return out, handler


def _sqlite_hits(url: str, canary: bytes) -> int:
    path = Path(url.removeprefix("sqlite:///"))
    files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    return sum(f.read_bytes().count(canary) for f in files if f.exists())


def _postgres_hits(url: str, canary: str) -> int:
    conninfo, schema = postgres_options(url)
    hits = 0
    with psycopg.connect(conninfo, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
        for (table,) in tables:
            row = conn.execute(
                f'SELECT count(*) FROM "{schema}"."{table}" t WHERE t::text LIKE %s',
                (f"%{canary}%",),
            ).fetchone()
            hits += int(row[0]) if row else 0
    return hits


def _file_hits(root: Path, canary: bytes) -> int:
    return sum(f.read_bytes().count(canary) for f in root.rglob("*") if f.is_file())


async def _backup_hits(target: DirectoryTarget, root: Path, canary: str) -> int:
    hits = _file_hits(root, canary.encode())
    for entry in (await load_manifest(target)).segments:
        rows = await fetch_rows(target, entry)
        hits += sum(repr(row).count(canary) for row in rows.rows)
    return hits


async def test_an_erased_canary_is_in_no_file_table_cache_log_or_backup(
    canary_store: tuple[EventStore, str],
    tmp_path: Path,
    redis_service: str,
    redis_namespace: str,
) -> None:
    store, url = canary_store
    canary = f"canary{uuid.uuid4().hex}"
    out, handler = _log_capture()
    cache = Cache.from_url(redis_service, namespace=redis_namespace)
    await cache.start()
    try:
        keys = SubjectKeys(store)
        await keys.migrate()
        cipher = PersonalDataCipher(default_registry, keys)
        repo = Repository(store, cipher=cipher)
        audit = AuditTrail(store, cipher=cipher)

        # Use it: write, rename, a note about them elsewhere, read, audit, export, cache.
        person = Person.blank(PersonId.new())
        person.register(canary, f"{canary}@example.org", city="Lyon")
        person.rename(f"{canary} Jr")
        await repo.save(person, tenant_id="t1")
        other = Person.blank(PersonId.new())
        other.register("Other", "other@example.org")
        other.note(about=person.stream_id, text=f"met {canary}")
        await repo.save(other, tenant_id="t1")
        loaded = await repo.load(Person, person.id, tenant_id="t1")
        assert loaded.name == f"{canary} Jr"
        exported = to_csv((await audit.page("t1")).entries)
        assert canary in exported

        async def compute() -> dict[str, str | None]:
            return {"name": loaded.name, "email": loaded.email}

        cache_key = f"person:{person.stream_id}"
        cached = await cache.get_or_compute(
            cache_key, compute, tenant="t1", tags=[subject_tag("t1", person.stream_id)]
        )
        assert cached["name"] == f"{canary} Jr"
        logging.getLogger("tests.privacy").info("served %s", cached)

        target_root = tmp_path / "backup"
        target = DirectoryTarget(target_root)
        shipper = Shipper(store, target)
        await shipper.open()
        await shipper.ship_once()

        # Erase, then look everywhere.
        out.truncate(0)
        out.seek(0)
        eraser = Eraser(
            store, keys, listeners=[CacheEraser(cache, lambda subject: [f"person:{subject}"])]
        )
        erased_at = time.monotonic()
        await eraser.erase_subject("t1", person.stream_id, actor="admin")
        await shipper.ship_once()

        async def recomputed() -> dict[str, str | None]:
            fresh = await repo.load(Person, person.id, tenant_id="t1")
            return {"name": fresh.name, "email": fresh.email}

        after_cache = await cache.get_or_compute(
            cache_key, recomputed, tenant="t1", tags=[subject_tag("t1", person.stream_id)]
        )
        after_audit = to_csv((await audit.page("t1")).entries)
        redis_client = redis.asyncio.from_url(redis_service)
        redis_hits = 0
        async for key in redis_client.scan_iter(match=f"{redis_namespace}*"):
            value = await redis_client.get(key)
            if value is not None and canary.encode() in value:
                redis_hits += 1
        await redis_client.aclose()
        database_hits = (
            _sqlite_hits(url, canary.encode())
            if url.startswith("sqlite")
            else _postgres_hits(url, canary)
        )

        found = {
            "database": database_hits,
            "read": int(canary in str(await repo.load(Person, person.id, tenant_id="t1"))),
            "other's note": int(canary in str(await repo.load(Person, other.id, tenant_id="t1"))),
            "cache": int(canary in str(after_cache)),
            "redis": redis_hits,
            "audit export": int(canary in after_audit),
            "log output": out.getvalue().count(canary),
            "backup": await _backup_hits(target, target_root, canary),
        }
        assert found == dict.fromkeys(found, 0)
        assert time.monotonic() - erased_at < 60
        assert after_cache == {"name": "[erased]", "email": None}
    finally:
        logging.getLogger().removeHandler(handler)
        await cache.aclose()
