"""The key table: one key per tenant and subject, minted once, destroyed for good."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from headwater.eventstore import create_event_store
from headwater.privacy import SubjectKeys

pytestmark = pytest.mark.anyio


async def test_a_key_is_minted_once_and_then_found(keys: SubjectKeys) -> None:
    first = await keys.ensure("t1", ["a", "b"])
    again = await keys.ensure("t1", ["a", "b", "a"])

    assert first == again
    assert len({*first.values()}) == 2
    assert all(len(key) == 32 for key in first.values())


async def test_concurrent_first_writers_end_up_with_one_key(keys: SubjectKeys) -> None:
    minted = await asyncio.gather(*(keys.ensure("t1", ["same"]) for _ in range(8)))
    assert len({m["same"] for m in minted}) == 1


async def test_the_same_subject_in_two_tenants_has_two_keys(keys: SubjectKeys) -> None:
    one = await keys.ensure("t1", ["s"])
    two = await keys.ensure("t2", ["s"])
    none = await keys.ensure(None, ["s"])

    assert len({one["s"], two["s"], none["s"]}) == 3
    await keys.erase("t1", "s")
    assert await keys.fetch("t2", ["s"]) == two
    assert await keys.fetch(None, ["s"]) == none


async def test_an_erased_subject_never_gets_a_new_key(keys: SubjectKeys) -> None:
    await keys.ensure("t1", ["s"])

    assert await keys.erase("t1", "s") is True
    assert await keys.erase("t1", "s") is False
    assert await keys.ensure("t1", ["s"]) == {}
    assert await keys.is_erased("t1", "s")
    assert await keys.erased_subjects("t1") == ["s"]


async def test_erasing_a_subject_never_seen_leaves_a_tombstone(keys: SubjectKeys) -> None:
    assert await keys.erase("t1", "ghost") is True
    assert await keys.ensure("t1", ["ghost"]) == {}


def _hits(folder: Path, needle: bytes) -> int:
    return sum(p.read_bytes().count(needle) for p in folder.iterdir() if p.is_file())


async def test_an_erased_keys_bytes_are_in_no_sqlite_file_or_wal(tmp_path: Path) -> None:
    store = await create_event_store(f"sqlite:///{tmp_path / 'keys.db'}")
    try:
        keys = SubjectKeys(store)
        await keys.migrate()
        key = (await keys.ensure("t1", ["a"]))["a"]
        await keys.ensure("t1", [f"other-{i}" for i in range(50)])

        await keys.erase("t1", "a")

        assert _hits(tmp_path, key) == 0
    finally:
        await store.close()
