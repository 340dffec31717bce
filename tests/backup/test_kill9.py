"""Lose the machine: a node writing steadily and shipping its log is killed with SIGKILL;
its backup is restored on a fresh database of the OTHER backend. Every acknowledged
event up to the shipped position is there, the read models equal the originals', and
what was lost is only what was acknowledged within the last ship interval (nothing at
all with shipped appends).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from headwater.backup import (
    DirectoryTarget,
    load_manifest,
    projection_checksum,
    restore,
    verify_target,
)
from headwater.backup._loader import load_events
from headwater.eventstore import EventStore, create_event_store
from headwater.projections import migrate_projections, rebuild
from tests.backup._ledger import PROJECTIONS, ledger_by_tenant

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROOT = Path(__file__).parents[2]
INTERVAL = 0.2
RUN_SECONDS = 2.5


def count_acks(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def read_acks(path: Path) -> list[tuple[int, float]]:
    acks = []
    for line in path.read_text().splitlines():
        position, moment = line.split()
        acks.append((int(position), float(moment)))
    return acks


async def run_and_kill(url: str, target: Path, acks: Path, mode: str) -> float:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *sys.path]))
    node = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("_node.py")),
        url,
        str(target),
        str(acks),
        str(INTERVAL),
        mode,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while count_acks(acks) < 50:
            assert node.returncode is None, "the node died on its own"
            assert time.monotonic() < deadline, "the node never started writing"
            await asyncio.sleep(0.05)
        await asyncio.sleep(RUN_SECONDS)
    finally:
        node.send_signal(signal.SIGKILL)
        killed_at = time.time()
        await node.wait()
    return killed_at


async def replay(source: EventStore, up_to: int, url: str) -> list[str]:
    """The read models the original node's log implies at ``up_to``, rebuilt elsewhere."""
    replica = await create_event_store(url, migrate=True)
    try:
        events = [e async for e in source.read_all(limit=up_to)]
        await load_events(replica, events)
        await migrate_projections(replica)
        for projection in PROJECTIONS:
            await rebuild(replica, projection)
        return [(await projection_checksum(replica.fetchall, p)).sha256 for p in PROJECTIONS]
    finally:
        await replica.close()


@pytest.mark.parametrize(
    ("node_backend", "mode"),
    [("sqlite", "default"), ("postgres", "default"), ("sqlite", "shipped")],
)
async def test_a_killed_nodes_backup_restores_on_the_other_backend(
    node_backend: str, mode: str, postgres_url: str, tmp_path: Path
) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'node.db'}"
    node_url, other_url = (
        (sqlite_url, postgres_url) if node_backend == "sqlite" else (postgres_url, sqlite_url)
    )
    target_dir, ack_path = tmp_path / "backups", tmp_path / "acks.txt"
    killed_at = await run_and_kill(node_url, target_dir, ack_path, mode)

    target = DirectoryTarget(target_dir)
    assert (await verify_target(target)).ok
    shipped = (await load_manifest(target)).last_position
    acks = read_acks(ack_path)
    assert shipped > 0
    lost = [(p, t) for p, t in acks if p > shipped]
    if mode == "shipped":
        assert lost == [], "an append acknowledged after shipping was lost"
    else:
        # Only what was acknowledged within about one interval of the kill is lost
        # (generous slack: two cores shared by many test runs).
        assert all(t >= killed_at - INTERVAL - 2.0 for _, t in lost), lost[:3]

    destination = await create_event_store(other_url, migrate=True)
    source = await create_event_store(node_url, migrate=False)
    try:
        await restore(target, destination, PROJECTIONS)
        restored = {e.position: e async for e in destination.read_all()}
        assert sorted(restored) == list(range(1, shipped + 1))
        for position, _ in acks:
            if position <= shipped:
                assert position in restored
        assert [e async for e in source.read_all(limit=shipped)] == list(restored.values())

        restored_sums = [
            (await projection_checksum(destination.fetchall, p)).sha256 for p in PROJECTIONS
        ]
        assert restored_sums == await replay(source, shipped, f"sqlite:///{tmp_path / 'r.db'}")
        # The node's own inline read model (at its head) is what the same replay gives:
        # the replay stands for the originals.
        head = await source.head_position()
        original = (await projection_checksum(source.fetchall, ledger_by_tenant)).sha256
        replayed = await replay(source, head, f"sqlite:///{tmp_path / 'h.db'}")
        assert original == replayed[PROJECTIONS.index(ledger_by_tenant)]
    finally:
        await source.close()
        await destination.close()
