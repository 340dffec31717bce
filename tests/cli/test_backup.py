"""``headwater backup``, run as an operator runs it: ship, list, verify, restore, drill."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headwater.cli._main import app
from headwater.eventstore import create_event_store
from headwater.testing._backup import make_bucket, moto_s3_endpoint  # noqa: F401 - fixture
from tests.backup._ledger import write_deposits

runner = CliRunner(env={"COLUMNS": "200"})
PROJECTIONS = "tests.backup._ledger:PROJECTIONS"


def make_log(url: str, count: int) -> None:
    async def run() -> None:
        store = await create_event_store(url)
        try:
            await write_deposits(store, 0, count)
        finally:
            await store.close()

    asyncio.run(run())


def head_of(url: str) -> int:
    async def run() -> int:
        store = await create_event_store(url)
        try:
            return await store.head_position()
        finally:
            await store.close()

    return asyncio.run(run())


@pytest.fixture
def live(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    make_log(url, 120)
    return url


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["backup", *args])
    return result.exit_code, result.output


def test_ship_list_and_verify_a_directory_target(live: str, tmp_path: Path) -> None:
    target = f"file://{tmp_path / 'backups'}"
    code, output = invoke("ship", "--target", target, "--url", live, "--once")
    assert code == 0, output
    assert "shipped through position 120" in output
    code, output = invoke("list", "--target", target)
    assert code == 0, output
    assert "log: positions 1-120 in 1 segments" in output
    code, output = invoke("verify", "--target", target)
    assert code == 0, output
    assert "120 events: ok" in output


def test_verify_exits_non_zero_and_names_the_damaged_range(live: str, tmp_path: Path) -> None:
    target = tmp_path / "backups"
    invoke("ship", "--target", str(target), "--url", live, "--once")
    segment = next((target / "segments").iterdir())
    segment.write_bytes(segment.read_bytes()[:-10])
    code, output = invoke("verify", "--target", str(target))
    assert code == 1
    assert "[checksum] log positions 1-120" in output


def test_restore_dry_run_then_to_a_position_and_a_time(live: str, tmp_path: Path) -> None:
    target = str(tmp_path / "backups")
    invoke("ship", "--target", target, "--url", live, "--once")
    destination = f"sqlite:///{tmp_path / 'restored.db'}"
    code, output = invoke(
        "restore", "--target", target, "--url", destination, "--to-position", "80", "--dry-run"
    )
    assert code == 0, output
    assert "restore positions 1-80 (80 events)" in output
    assert "estimated duration" in output
    assert "nothing was written" in output
    assert not (tmp_path / "restored.db").exists()

    code, output = invoke(
        "restore", "--target", target, "--url", destination, "--to-position", "80",
        "--app", PROJECTIONS,
    )  # fmt: skip
    assert code == 0, output
    assert "restored 80 events to position 80" in output
    assert "rebuilt 2 projections" in output
    assert head_of(destination) == 80

    code, output = invoke("restore", "--target", target, "--url", destination)
    assert code == 1
    assert "not empty" in output

    code, output = invoke(
        "restore", "--target", target, "--url", f"sqlite:///{tmp_path / 't.db'}",
        "--to-time", "2000-01-01T00:00:00",
    )  # fmt: skip
    assert code == 1
    assert "no backed-up event was recorded" in output


def test_drill_passes_on_a_good_backup_and_fails_on_a_missing_segment(
    live: str, tmp_path: Path
) -> None:
    target = tmp_path / "backups"
    invoke("ship", "--target", str(target), "--url", live, "--once")
    code, output = invoke("drill", "--target", str(target), "--url", live, "--app", PROJECTIONS)
    assert code == 0, output
    assert "drill passed: restored 120 events to position 120" in output
    assert "read model bk_ledger:" in output
    next((target / "segments").iterdir()).unlink()
    code, output = invoke("drill", "--target", str(target), "--url", live, "--app", PROJECTIONS)
    assert code == 1
    assert "drill FAILED" in output


def test_base_and_prune_through_the_cli(live: str, tmp_path: Path) -> None:
    target = str(tmp_path / "backups")
    invoke("ship", "--target", target, "--url", live, "--once")
    code, output = invoke("base", "--target", target, "--url", live)
    assert code == 0, output
    assert "at position 120" in output
    code, output = invoke("prune", "--target", target, "--url", live, "--keep-daily", "1")
    assert code == 0, output
    assert "kept 1 bases, dropped 0 bases and 1 log segments" in output
    code, output = invoke("verify", "--target", target)
    assert code == 0, output


def test_ship_and_restore_through_s3(live: str, tmp_path: Path, moto_s3_endpoint: str) -> None:  # noqa: F811
    bucket = f"hw-{uuid.uuid4().hex[:12]}"
    make_bucket(moto_s3_endpoint, bucket)
    target = f"s3://{bucket}/prod/node1?endpoint_url={moto_s3_endpoint}"
    code, output = invoke("ship", "--target", target, "--url", live, "--once")
    assert code == 0, output
    code, output = invoke("verify", "--target", target)
    assert code == 0, output
    destination = f"sqlite:///{tmp_path / 'from-s3.db'}"
    code, output = invoke("restore", "--target", target, "--url", destination)
    assert code == 0, output
    assert head_of(destination) == 120
