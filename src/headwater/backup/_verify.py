"""``verify``: every segment's checksum and every hash-chain link, without restoring.

Each manifest (the continuous log's and each base backup's) is walked in order.
For every entry: its range must continue the previous one, its ``prev`` must be
the previous segment's checksum, its object must exist, hash to its checksum and
decode to exactly the range and link its entry claims. Any failure is a
:class:`Problem` naming the position range it affects. Objects under a chain's
prefix that no manifest names are reported as warnings: a ship that died between
writing a segment and its manifest leaves one, and the next ship removes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from headwater.backup._manifest import (
    BASE_PREFIX,
    MANIFEST_KEY,
    SEGMENT_PREFIX,
    Manifest,
    SegmentEntry,
)
from headwater.backup._segment import decode_segment, sha256
from headwater.backup._target import BackupTarget
from headwater.errors import BackupCorrupt, BackupObjectMissing

ProblemKind = Literal["manifest", "order", "chain", "missing", "checksum", "content"]


@dataclass(frozen=True, slots=True)
class Problem:
    kind: ProblemKind
    chain: str
    first: int | None
    last: int | None
    message: str

    def describe(self) -> str:
        where = "" if self.first is None else f" positions {self.first}-{self.last}"
        return f"[{self.kind}] {self.chain}{where}: {self.message}"


@dataclass(slots=True)
class VerifyReport:
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    segments: int = 0
    events: int = 0
    chains: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_chain(
    target: BackupTarget,
    manifest: Manifest,
    name: str,
    report: VerifyReport,
    *,
    up_to: int | None = None,
) -> None:
    """Check one chain; problems are added to ``report``."""
    report.chains += 1
    expected_first = manifest.anchor.through + 1
    expected_prev = manifest.anchor.sha256
    for entry in manifest.segments:
        if up_to is not None and entry.first > up_to:
            break
        report.segments += 1
        span = (entry.first, entry.last)
        if entry.first != expected_first or entry.last < entry.first:
            report.problems.append(
                Problem("order", name, *span, f"expected a segment starting at {expected_first}")
            )
        if entry.prev != expected_prev:
            report.problems.append(
                Problem("chain", name, *span, "does not link to the previous segment's hash")
            )
        expected_first, expected_prev = entry.last + 1, entry.sha256
        problem = await check_segment(target, entry, name)
        if problem is not None:
            report.problems.append(problem)
        else:
            report.events += entry.count


async def check_segment(target: BackupTarget, entry: SegmentEntry, name: str) -> Problem | None:
    span = (entry.first, entry.last)
    try:
        blob = await target.get(entry.key)
    except BackupObjectMissing:
        return Problem("missing", name, *span, f"segment {entry.key} is missing")
    if len(blob) != entry.size or sha256(blob) != entry.sha256:
        return Problem("checksum", name, *span, f"segment {entry.key} fails its checksum")
    try:
        content = decode_segment(blob)
    except BackupCorrupt as exc:
        return Problem("content", name, *span, f"segment {entry.key}: {exc.message}")
    if (content.first, content.last, content.prev) != (entry.first, entry.last, entry.prev):
        return Problem(
            "content",
            name,
            *span,
            f"segment {entry.key} holds positions {content.first}-{content.last}, "
            "not what the manifest says",
        )
    return None


async def read_manifest(
    target: BackupTarget, key: str, name: str, report: VerifyReport
) -> Manifest | None:
    try:
        return Manifest.decode(await target.get(key))
    except BackupObjectMissing:
        report.problems.append(Problem("manifest", name, None, None, f"{key} is missing"))
    except BackupCorrupt as exc:
        report.problems.append(Problem("manifest", name, None, None, exc.message))
    return None


async def verify_target(target: BackupTarget) -> VerifyReport:
    """Verify the continuous log and every base backup in ``target``."""
    report = VerifyReport()
    keys = await target.list()
    listed: set[str] = set()
    if MANIFEST_KEY in keys:
        manifest = await read_manifest(target, MANIFEST_KEY, "log", report)
        if manifest is not None:
            listed.update(s.key for s in manifest.segments)
            await verify_chain(target, manifest, "log", report)
    elif any(k.startswith(SEGMENT_PREFIX) for k in keys):
        report.problems.append(
            Problem("manifest", "log", None, None, f"segments exist but {MANIFEST_KEY} is missing")
        )
    bases = sorted({"/".join(k.split("/")[:2]) for k in keys if k.startswith(BASE_PREFIX)})
    for name in bases:
        key = f"{name}/{MANIFEST_KEY}"
        if key not in keys:
            # Never used by a restore (see base.list_bases); left by a base that was
            # interrupted while being written or deleted.
            report.warnings.append(f"{name} has no manifest: an incomplete base, ignored")
        else:
            manifest = await read_manifest(target, key, name, report)
            if manifest is not None:
                listed.update(s.key for s in manifest.segments)
                await verify_chain(target, manifest, name, report)
    if report.chains == 0 and not report.problems:
        report.problems.append(
            Problem("manifest", "log", None, None, f"{target.location} holds no backup")
        )
    for key in keys:
        if key.endswith(".seg") and key not in listed:
            report.warnings.append(f"{key} is in no manifest (left by an interrupted ship?)")
    return report
