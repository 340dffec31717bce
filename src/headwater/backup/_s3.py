"""S3-compatible object storage as a backup target (AWS S3, MinIO, Ceph, R2...), via boto3.

boto3 is synchronous; every call runs on a worker thread so shipping never blocks
the event loop. One client is shared: boto3 clients are thread-safe.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from headwater.backup._target import BackupTarget, check_key, check_prefix
from headwater.errors import BackupError, BackupObjectMissing

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


class S3Target(BackupTarget):
    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        client: S3Client | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = check_prefix(prefix)
        self.location = f"s3://{bucket}/{self.prefix}" + (
            f" at {endpoint_url}" if endpoint_url else ""
        )
        self._client: S3Client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            # Bounded retries with backoff: a flaky network delays a ship, and the
            # shipper retries the whole ship at its next tick anyway.
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10),
        )

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def _call(self, fn: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING and "Key" in kwargs:
                raise BackupObjectMissing(kwargs["Key"][len(self.prefix) :]) from None
            raise BackupError(f"S3 {self.location}: {exc}") from exc

    async def put(self, key: str, data: bytes) -> None:
        await self._call(self._client.put_object, Key=self._name(key), Body=bytes(data))

    async def get(self, key: str) -> bytes:
        response = await self._call(self._client.get_object, Key=self._name(key))
        body = response["Body"]
        try:
            return await asyncio.to_thread(body.read)
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await self._call(self._client.delete_object, Key=self._name(key))

    async def list(self, prefix: str = "") -> list[str]:
        full = self.prefix + check_prefix(prefix)

        def collect() -> list[str]:
            keys: list[str] = []
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                keys.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
            return sorted(keys)

        try:
            return await asyncio.to_thread(collect)
        except ClientError as exc:
            raise BackupError(f"S3 {self.location}: {exc}") from exc

    async def close(self) -> None:
        self._client.close()
