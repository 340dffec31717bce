"""``verify`` catches every corruption (flipped bytes, truncation, dropped and reordered
segments) with its position range, and raises no false alarm on a clean backup."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import orjson
import pytest

from headwater.backup import (
    DirectoryTarget,
    Shipper,
    ShipperOptions,
    create_base,
    load_manifest,
    verify_target,
)
from headwater.backup._manifest import MANIFEST_KEY, SegmentEntry
from headwater.eventstore import create_event_store
from tests.backup._ledger import write_deposits

pytestmark = pytest.mark.anyio

TRIALS = 100
SEED = 20261207


async def make_backup(root: Path) -> list[SegmentEntry]:
    """A log of 400 events in 20 segments plus a base of 10 more; returns every segment."""
    store = await create_event_store(f"sqlite:///{root / 'source.db'}")
    target = DirectoryTarget(root / "clean")
    try:
        await write_deposits(store, 0, 200)
        await create_base(store, target, segment_events=20)
        await write_deposits(store, 200, 200)
        await Shipper(store, target, ShipperOptions(segment_events=20)).ship_once()
    finally:
        await store.close()
    segments = list((await load_manifest(target)).segments)
    base_keys = [k for k in await target.list("bases/") if k.endswith(".seg")]
    for key in base_keys:
        first, last = (int(part) for part in key.rsplit("/", 1)[1][:-4].split("-"))
        segments.append(SegmentEntry(key, first, last, "", "", 0, 0, 0))
    return segments


def corrupt(root: Path, segments: list[SegmentEntry], rng: random.Random) -> tuple[str, set[int]]:
    """Damage a copy of the backup one random way; returns the kind and the positions hit."""
    kind = rng.choice(["flip", "truncate", "drop", "reorder-objects", "reorder-manifest"])
    victim = rng.choice(segments)
    path = root.joinpath(*victim.key.split("/"))
    hit = {victim.first, victim.last}
    if kind == "flip":
        data = bytearray(path.read_bytes())
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] ^= rng.randint(1, 255)
        path.write_bytes(bytes(data))
    elif kind == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: rng.randrange(len(data))])
    elif kind == "drop":
        path.unlink()
    elif kind == "reorder-objects":
        # Two segments of the same chain swap places (their objects trade keys).
        same_chain = [
            s for s in segments if s.key.rsplit("/", 1)[0] == victim.key.rsplit("/", 1)[0]
        ]
        other = rng.choice([s for s in same_chain if s.key != victim.key])
        other_path = root.joinpath(*other.key.split("/"))
        a, b = path.read_bytes(), other_path.read_bytes()
        path.write_bytes(b)
        other_path.write_bytes(a)
        hit |= {other.first, other.last}
    else:
        # The manifest lists two neighbouring segments the other way round.
        manifest_path = root / MANIFEST_KEY
        text = manifest_path.read_bytes()
        manifest = orjson.loads(text)
        index = rng.randrange(len(manifest["segments"]) - 1)
        entries = manifest["segments"]
        entries[index], entries[index + 1] = entries[index + 1], entries[index]
        manifest_path.write_bytes(orjson.dumps(manifest))
        hit = {entries[index]["first"], entries[index + 1]["first"]}
    return kind, hit


async def test_verify_catches_every_corruption_in_randomised_trials(tmp_path: Path) -> None:
    segments = await make_backup(tmp_path)
    clean = tmp_path / "clean"
    assert (await verify_target(DirectoryTarget(clean))).ok
    rng = random.Random(SEED)
    kinds: dict[str, int] = {}
    for trial in range(TRIALS):
        copy = tmp_path / f"trial-{trial}"
        shutil.copytree(clean, copy)
        kind, hit = corrupt(copy, segments, rng)
        kinds[kind] = kinds.get(kind, 0) + 1
        report = await verify_target(DirectoryTarget(copy))
        assert not report.ok, f"trial {trial} ({kind}, seed {SEED}) went unnoticed"
        ranges = [(p.first, p.last) for p in report.problems]
        assert all(r[0] is not None for r in ranges), report.problems
        assert any(
            first is not None and last is not None and any(first <= h <= last for h in hit)
            for first, last in ranges
        ), f"trial {trial} ({kind}): problems name other positions: {report.problems}"
        shutil.rmtree(copy)
    assert set(kinds) == {"flip", "truncate", "drop", "reorder-objects", "reorder-manifest"}


async def test_verify_raises_no_false_alarm_while_the_log_grows(tmp_path: Path) -> None:
    store = await create_event_store(f"sqlite:///{tmp_path / 'live.db'}")
    target = DirectoryTarget(tmp_path / "backups")
    shipper = Shipper(store, target, ShipperOptions(segment_events=15, seal_seconds=0.0))
    try:
        for round_ in range(TRIALS):
            await write_deposits(store, round_ * 3, 3)
            await shipper.ship_once()
            if round_ % 25 == 0:
                await create_base(store, target, segment_events=40)
            report = await verify_target(target)
            assert report.ok, f"round {round_}: {report.problems}"
            assert report.events >= (round_ + 1) * 3
    finally:
        await store.close()


async def test_a_missing_manifest_or_an_empty_target_fails_verification(tmp_path: Path) -> None:
    empty = await verify_target(DirectoryTarget(tmp_path / "nothing"))
    assert not empty.ok
    await make_backup(tmp_path)
    target = DirectoryTarget(tmp_path / "clean")
    await target.delete(MANIFEST_KEY)
    report = await verify_target(target)
    assert [p.kind for p in report.problems] == ["manifest"]
