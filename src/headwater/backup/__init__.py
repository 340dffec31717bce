"""Backups from the event log: continuous shipping, point-in-time restore, verify, drills.

::

    target = open_target("s3://backups/node1")          # or file:///mnt/backups/node1
    shipper = Shipper(store, target)                     # ships the live tail every 0.5 s
    await shipper.start()
    ...
    report = await verify_target(target)                 # checksums and the hash chain
    await restore(target, empty_store, projections, to_position=1234)
    result = await Drill(store, target, projections).run()

The log is the truth; read models are rebuilt from it after a restore, never backed
up. See ``segment.py`` for the format and ``shipper.py`` for the loss bound.
"""

from headwater.backup._base import BaseInfo, create_base, delete_base, list_bases
from headwater.backup._checksum import ReadModelChecksum, projection_checksum
from headwater.backup._directory import DirectoryTarget
from headwater.backup._drill import BACKUP_STREAM, DRILL_EVENT, Drill, DrillResult
from headwater.backup._manifest import Manifest, SegmentEntry
from headwater.backup._retention import (
    RetentionPlan,
    RetentionRules,
    apply_retention,
    plan_retention,
)
from headwater.backup._shipper import (
    ShippedAppender,
    Shipper,
    ShipperOptions,
    ShipStatus,
    load_manifest,
)
from headwater.backup._target import BackupTarget, open_target
from headwater.backup._verify import Problem, VerifyReport, verify_target
from headwater.backup.restore import RestorePlan, RestoreResult, plan_restore, restore
from headwater.errors import (
    BackupCorrupt,
    BackupError,
    BackupObjectMissing,
    InvalidTarget,
    RestoreRefused,
)

__all__ = [
    "BACKUP_STREAM",
    "DRILL_EVENT",
    "BackupCorrupt",
    "BackupError",
    "BackupObjectMissing",
    "BackupTarget",
    "BaseInfo",
    "DirectoryTarget",
    "Drill",
    "DrillResult",
    "InvalidTarget",
    "Manifest",
    "Problem",
    "ReadModelChecksum",
    "RestorePlan",
    "RestoreRefused",
    "RestoreResult",
    "RetentionPlan",
    "RetentionRules",
    "SegmentEntry",
    "ShipStatus",
    "ShippedAppender",
    "Shipper",
    "ShipperOptions",
    "VerifyReport",
    "apply_retention",
    "create_base",
    "delete_base",
    "list_bases",
    "load_manifest",
    "open_target",
    "plan_restore",
    "plan_retention",
    "projection_checksum",
    "restore",
    "verify_target",
]
