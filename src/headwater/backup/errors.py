"""The errors the backup package raises on purpose (all ``HeadwaterError``s)."""

from __future__ import annotations

from headwater.errors import HeadwaterError, InvalidInput


class BackupError(HeadwaterError):
    """Root of the backup package's errors."""

    code = "backup_error"


class BackupObjectMissing(BackupError):
    """A target has no object under the key asked for."""

    code = "backup_object_missing"

    def __init__(self, key: str) -> None:
        super().__init__(f"the backup target has no object {key!r}", key=key)
        self.key = key


class BackupCorrupt(BackupError):
    """A segment or the manifest failed a checksum, a chain link or a range check."""

    code = "backup_corrupt"


class RestoreRefused(InvalidInput):
    """A restore that would write into a non-empty store, or to a point no backup holds."""

    code = "restore_refused"


class InvalidTarget(InvalidInput):
    """A backup target URL or key that cannot be used."""

    code = "invalid_backup_target"
