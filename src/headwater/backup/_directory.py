"""A local or mounted directory as a backup target (NFS, a USB disk, a bind mount)."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

from headwater.backup._target import BackupTarget, check_key, check_prefix
from headwater.errors import BackupError, BackupObjectMissing


class DirectoryTarget(BackupTarget):
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.root = Path(path)
        self.location = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def _put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write aside, fsync, then rename over: a crash leaves the old object or the
        # new one, never a torn file; the directory fsync makes the rename durable.
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    async def put(self, key: str, data: bytes) -> None:
        try:
            await asyncio.to_thread(self._put, key, bytes(data))
        except OSError as exc:
            raise BackupError(f"cannot write {key} under {self.location}: {exc}") from exc

    def _get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BackupObjectMissing(key) from None
        except OSError as exc:
            raise BackupError(f"cannot read {key} under {self.location}: {exc}") from exc

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get, key)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        except OSError as exc:
            raise BackupError(f"cannot delete {key} under {self.location}: {exc}") from exc

    def _list(self, prefix: str) -> list[str]:
        if not self.root.is_dir():
            return []
        keys = []
        for dirpath, _dirs, files in os.walk(self.root):
            relative = Path(dirpath).relative_to(self.root)
            for name in files:
                if name.startswith("."):  # an unfinished write of _put
                    continue
                key = "/".join([*relative.parts, name])
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    async def list(self, prefix: str = "") -> list[str]:
        return await asyncio.to_thread(self._list, check_prefix(prefix))
