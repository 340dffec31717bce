"""The backup-target contract: one suite that every ``BackupTarget`` passes unchanged.

A target's tests subclass :class:`BackupTargetContract` and provide a ``target``
fixture yielding an empty target::

    class TestDirectoryTarget(BackupTargetContract):
        @pytest.fixture
        def target(self, tmp_path):
            return DirectoryTarget(tmp_path / "backups")

Headwater runs it against a directory and against S3 on moto's server (a real S3
API on loopback, see ``moto_s3_endpoint``).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator

import pytest

from headwater.backup import BackupObjectMissing, BackupTarget, InvalidTarget


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_s3_endpoint() -> Iterator[str]:
    """A real S3 API (moto's server mode) on a loopback port, for the whole session."""
    from moto.server import ThreadedMotoServer

    # boto3 reads credentials from the environment; moto accepts any.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def make_bucket(endpoint: str, name: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=name)


class BackupTargetContract:
    """Every behaviour a backup target promises, as tests; see the module docstring."""

    pytestmark = [pytest.mark.anyio]

    async def test_put_then_get_returns_the_same_bytes(self, target: BackupTarget) -> None:
        data = bytes(range(256)) * 41
        await target.put("segments/a.seg", data)
        assert await target.get("segments/a.seg") == data

    async def test_put_replaces_an_existing_object(self, target: BackupTarget) -> None:
        await target.put("manifest.json", b"old")
        await target.put("manifest.json", b"new and longer")
        assert await target.get("manifest.json") == b"new and longer"

    async def test_an_empty_object_round_trips(self, target: BackupTarget) -> None:
        await target.put("empty", b"")
        assert await target.get("empty") == b""

    async def test_get_of_a_missing_key_raises_object_missing(self, target: BackupTarget) -> None:
        with pytest.raises(BackupObjectMissing) as caught:
            await target.get("segments/nothing.seg")
        assert caught.value.key == "segments/nothing.seg"

    async def test_list_returns_sorted_keys_under_a_prefix(self, target: BackupTarget) -> None:
        for key in ("segments/2.seg", "segments/1.seg", "bases/x/manifest.json", "manifest.json"):
            await target.put(key, b"x")
        assert await target.list("segments/") == ["segments/1.seg", "segments/2.seg"]
        assert await target.list() == [
            "bases/x/manifest.json",
            "manifest.json",
            "segments/1.seg",
            "segments/2.seg",
        ]
        assert await target.list("nothing/") == []

    async def test_delete_removes_and_tolerates_a_missing_key(self, target: BackupTarget) -> None:
        await target.put("segments/1.seg", b"x")
        await target.delete("segments/1.seg")
        await target.delete("segments/1.seg")
        assert await target.list() == []
        with pytest.raises(BackupObjectMissing):
            await target.get("segments/1.seg")

    @pytest.mark.parametrize("key", ["", "/abs", "a//b", "../escape", "a/../b", "a/./b", "sp ace"])
    async def test_unsafe_keys_are_refused(self, target: BackupTarget, key: str) -> None:
        with pytest.raises(InvalidTarget):
            await target.put(key, b"x")
        with pytest.raises(InvalidTarget):
            await target.get(key)

    async def test_a_prefix_must_end_with_a_slash(self, target: BackupTarget) -> None:
        with pytest.raises(InvalidTarget):
            await target.list("segments")

    async def test_concurrent_puts_of_different_keys_all_land(self, target: BackupTarget) -> None:
        await asyncio.gather(*(target.put(f"segments/{i:03d}.seg", bytes([i])) for i in range(20)))
        keys = await target.list("segments/")
        assert keys == [f"segments/{i:03d}.seg" for i in range(20)]
        assert [await target.get(k) for k in keys] == [bytes([i]) for i in range(20)]

    async def test_a_large_object_round_trips(self, target: BackupTarget) -> None:
        data = os.urandom(6 * 1024 * 1024)
        await target.put("segments/big.seg", data)
        assert await target.get("segments/big.seg") == data
