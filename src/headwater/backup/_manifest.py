"""The manifest: which segments make up the shipped log, in order, with their hashes.

``manifest.json`` at the root of a target lists the continuous log's segments; each
base backup (a full copy of the log at one position, see ``base.py``) has its own
manifest under ``bases/``. An entry repeats what the segment's bytes say (range,
previous hash) plus the segment's own checksum, so every field of the manifest is
checked against the objects by ``verify``, and a corrupt manifest is as visible as a
corrupt segment.

Objects are always written before the manifest that names them: a crash between
the two leaves an unlisted object (cleaned up by the next ship), never a manifest
that names something missing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final

import orjson

from headwater.errors import BackupCorrupt

MANIFEST_KEY: Final = "manifest.json"
SEGMENT_PREFIX: Final = "segments/"
BASE_PREFIX: Final = "bases/"
DRILL_KEY: Final = "drills/last.json"
MANIFEST_FORMAT: Final = 1


def segment_key(prefix: str, first: int, last: int) -> str:
    # Zero-padded so a listing sorts in position order.
    return f"{prefix}{first:020d}-{last:020d}.seg"


@dataclass(frozen=True, slots=True)
class SegmentEntry:
    key: str
    first: int
    last: int
    sha256: str
    prev: str
    size: int
    first_us: int
    last_us: int
    sealed: bool = True

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    def describe(self) -> str:
        return f"positions {self.first}-{self.last} ({self.key})"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SegmentEntry:
        return cls(
            key=str(raw["key"]),
            first=int(raw["first"]),
            last=int(raw["last"]),
            sha256=str(raw["sha256"]),
            prev=str(raw["prev"]),
            size=int(raw["size"]),
            first_us=int(raw["first_us"]),
            last_us=int(raw["last_us"]),
            sealed=bool(raw.get("sealed", True)),
        )


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where a chain starts when retention removed what came before it."""

    through: int = 0
    sha256: str = ""


@dataclass(frozen=True, slots=True)
class Manifest:
    """A chain of segments. ``anchor`` is the position and hash just before the first."""

    segments: tuple[SegmentEntry, ...] = ()
    anchor: Anchor = field(default_factory=Anchor)
    #: For a base backup: its id and creation time (None for the continuous log).
    base_id: str | None = None
    created_us: int = 0

    @property
    def last_position(self) -> int:
        return self.segments[-1].last if self.segments else self.anchor.through

    @property
    def first_position(self) -> int:
        return self.anchor.through + 1

    @property
    def head_sha(self) -> str:
        return self.segments[-1].sha256 if self.segments else self.anchor.sha256

    @property
    def last_us(self) -> int | None:
        return self.segments[-1].last_us if self.segments else None

    @property
    def tail(self) -> SegmentEntry | None:
        if self.segments and not self.segments[-1].sealed:
            return self.segments[-1]
        return None

    def with_tail(self, entry: SegmentEntry) -> Manifest:
        sealed = self.segments[:-1] if self.tail is not None else self.segments
        return replace(self, segments=(*sealed, entry))

    def encode(self) -> bytes:
        body = {
            "format": MANIFEST_FORMAT,
            "base_id": self.base_id,
            "created_us": self.created_us,
            "anchor": asdict(self.anchor),
            "segments": [asdict(s) for s in self.segments],
        }
        return orjson.dumps(body, option=orjson.OPT_INDENT_2)

    @classmethod
    def decode(cls, blob: bytes) -> Manifest:
        try:
            raw = orjson.loads(blob)
            if raw.get("format") != MANIFEST_FORMAT:
                raise BackupCorrupt(f"the manifest is not format {MANIFEST_FORMAT}")
            anchor = Anchor(int(raw["anchor"]["through"]), str(raw["anchor"]["sha256"]))
            segments = tuple(SegmentEntry.from_dict(s) for s in raw["segments"])
            base_id = raw.get("base_id")
            return cls(
                segments,
                anchor,
                None if base_id is None else str(base_id),
                int(raw.get("created_us", 0)),
            )
        except BackupCorrupt:
            raise
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackupCorrupt(f"the manifest cannot be read: {exc}") from exc

    def covering(self, up_to: int) -> list[SegmentEntry]:
        """The segments needed to rebuild the log from the anchor up to ``up_to``."""
        return [s for s in self.segments if s.first <= up_to]

    def position_at(self, micros: int) -> int:
        """The last position recorded at or before ``micros`` (by the entries' times);
        the anchor when nothing here is that old. Exact within a segment needs its
        events: see ``restore.resolve_time``."""
        position = self.anchor.through
        for entry in self.segments:
            if entry.first_us > micros:
                break
            position = entry.last if entry.last_us <= micros else entry.first - 1
        return position
