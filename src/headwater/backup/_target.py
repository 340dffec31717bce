"""Where backups go: the ``BackupTarget`` interface and the factory that picks one by URL.

A target is a flat key -> bytes store with four operations. Keys are relative,
``/``-separated paths without ``.`` or ``..`` parts. Writing a key replaces it
atomically: a reader sees the old bytes or the new ones, never a mix (S3 PUT is
atomic; the directory target writes a temporary file and renames it).
``headwater.testing._backup.BackupTargetContract`` is the suite every target passes.
"""

from __future__ import annotations

import abc
import re
from typing import Final
from urllib.parse import parse_qs, urlsplit

from headwater.errors import InvalidTarget

_KEY_PART: Final = re.compile(r"^[A-Za-z0-9._-]+$")
MAX_KEY_LENGTH: Final = 900


def check_key(key: object) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidTarget(f"a backup key must be a non-empty string, not {key!r}")
    parts = key.split("/")
    for part in parts:
        if part in ("", ".", "..") or not _KEY_PART.match(part):
            raise InvalidTarget(f"{key!r} is not a valid backup key")
    return key


def check_prefix(prefix: object) -> str:
    if prefix == "":
        return ""
    if not isinstance(prefix, str) or not prefix.endswith("/"):
        raise InvalidTarget(f"a key prefix is empty or ends with '/', not {prefix!r}")
    check_key(prefix[:-1])
    return prefix


class BackupTarget(abc.ABC):
    """A flat, atomic key -> bytes store for segments and manifests."""

    #: A human-readable location, for messages and ``backup list``.
    location: str

    @abc.abstractmethod
    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, durably, replacing what was there."""

    @abc.abstractmethod
    async def get(self, key: str) -> bytes:
        """The bytes under ``key``; raises ``BackupObjectMissing`` when there are none."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Remove ``key``; removing a key that does not exist is not an error."""

    @abc.abstractmethod
    async def list(self, prefix: str = "") -> list[str]:
        """Every key that starts with ``prefix`` (``""`` or ending in ``/``), sorted."""

    async def close(self) -> None:
        """Release connections; the default holds none."""


def open_target(url: str) -> BackupTarget:
    """``file:///backups/node1``, a plain path, or ``s3://bucket/prefix`` with optional
    ``?endpoint_url=http://127.0.0.1:9000&region=eu-west-1`` (credentials come from
    the usual AWS environment variables or files, never from the URL)."""
    if not isinstance(url, str) or not url:
        raise InvalidTarget("a backup target URL is required (file:///path or s3://bucket/prefix)")
    parts = urlsplit(url)
    if parts.scheme in ("", "file"):
        from headwater.backup._directory import DirectoryTarget

        path = parts.path if parts.scheme == "file" else url
        if parts.scheme == "file" and parts.netloc:
            raise InvalidTarget(f"a file URL has no host: use file:///path, not {url!r}")
        return DirectoryTarget(path)
    if parts.scheme == "s3":
        try:
            from headwater.backup._s3 import S3Target
        except ImportError as exc:  # pragma: no cover - depends on installed extras
            raise InvalidTarget("S3 targets need the extra: pip install 'headwater[s3]'") from exc
        if not parts.netloc:
            raise InvalidTarget(f"an S3 URL names a bucket: s3://bucket/prefix, not {url!r}")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"endpoint_url", "region"}
        if unknown:
            raise InvalidTarget(f"unknown S3 target options: {sorted(unknown)}")
        prefix = parts.path.strip("/")
        return S3Target(
            parts.netloc,
            prefix=f"{prefix}/" if prefix else "",
            endpoint_url=query.get("endpoint_url"),
            region=query.get("region"),
        )
    raise InvalidTarget(f"unknown backup target scheme {parts.scheme!r}: use file:// or s3://")
