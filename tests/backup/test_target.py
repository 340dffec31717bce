"""The backup-target contract on a directory and on S3 (moto's server on loopback)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from headwater.backup import BackupTarget, DirectoryTarget, InvalidTarget, open_target
from headwater.backup._s3 import S3Target
from headwater.testing._backup import BackupTargetContract, make_bucket


class TestDirectoryTarget(BackupTargetContract):
    @pytest.fixture
    def target(self, tmp_path: Path) -> BackupTarget:
        return DirectoryTarget(tmp_path / "backups")


class TestS3Target(BackupTargetContract):
    @pytest.fixture
    async def target(self, moto_s3_endpoint: str) -> AsyncIterator[BackupTarget]:
        bucket = f"hw-{uuid.uuid4().hex[:12]}"
        make_bucket(moto_s3_endpoint, bucket)
        opened = open_target(f"s3://{bucket}/node1?endpoint_url={moto_s3_endpoint}")
        yield opened
        await opened.close()


def test_open_target_picks_the_backend_by_url(tmp_path: Path) -> None:
    assert isinstance(open_target(f"file://{tmp_path}"), DirectoryTarget)
    assert isinstance(open_target(str(tmp_path)), DirectoryTarget)
    s3 = open_target("s3://bucket/a/b?region=eu-west-1&endpoint_url=http://127.0.0.1:1")
    assert isinstance(s3, S3Target)
    assert s3.prefix == "a/b/"


@pytest.mark.parametrize(
    "url", ["", "ftp://host/x", "s3:///prefix", "s3://bucket?secret=1", "file://host/x"]
)
def test_open_target_refuses_unusable_urls(url: str) -> None:
    with pytest.raises(InvalidTarget):
        open_target(url)


@pytest.mark.anyio
async def test_s3_targets_under_different_prefixes_of_one_bucket_are_separate(
    moto_s3_endpoint: str,
) -> None:
    bucket = f"hw-{uuid.uuid4().hex[:12]}"
    make_bucket(moto_s3_endpoint, bucket)
    one = open_target(f"s3://{bucket}/node1?endpoint_url={moto_s3_endpoint}")
    two = open_target(f"s3://{bucket}/node10?endpoint_url={moto_s3_endpoint}")
    try:
        await one.put("manifest.json", b"one")
        await two.put("manifest.json", b"two")
        assert await one.list() == ["manifest.json"]
        assert await one.get("manifest.json") == b"one"
        assert await two.get("manifest.json") == b"two"
    finally:
        await one.close()
        await two.close()
