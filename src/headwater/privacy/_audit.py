"""The audit trail: who did what, read straight from the log's metadata.

There is nothing to switch on or off: every event already carries its actor,
command and correlation in its metadata (the command bus puts them there) and the
log is append-only, so the trail is the log itself, read per tenant. Personal
fields are shown as the cipher opens them: real values while the subject's key
exists, the declared replacement values once the subject is erased.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import orjson

from headwater.domain._personal import SubjectCipher, strip_sealed
from headwater.errors import InvalidInput
from headwater.eventstore import EventStore, RecordedEvent

DEFAULT_PAGE: Final = 50
MAX_PAGE: Final = 500
#: Events looked at per page at most. A filter that matches rarely returns a short (even
#: empty) page with a cursor to go on, rather than one request reading the whole log.
SCAN_LIMIT: Final = 5_000
CSV_COLUMNS: Final = (
    "position",
    "recorded_at",
    "actor",
    "stream_id",
    "type",
    "command_type",
    "correlation_id",
    "data",
)


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of a trail read; all optional, combined with AND."""

    actor: str | None = None
    stream_id: str | None = None
    types: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for moment in (self.since, self.until):
            if moment is not None and moment.tzinfo is None:
                raise InvalidInput("since and until must carry a time zone")

    def matches(self, record: RecordedEvent) -> bool:
        if self.actor is not None and record.metadata.get("actor") != self.actor:
            return False
        if self.stream_id is not None and record.stream_id != self.stream_id:
            return False
        if self.since is not None and record.recorded_at < self.since:
            return False
        return not (self.until is not None and record.recorded_at >= self.until)

    def scope(self) -> str:
        """Names the filters, so a cursor from one filtered list is refused by another."""
        parts = [
            self.actor or "",
            self.stream_id or "",
            ",".join(self.types),
            self.since.isoformat() if self.since else "",
            self.until.isoformat() if self.until else "",
        ]
        return "audit|" + "|".join(parts)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    position: int
    recorded_at: datetime
    actor: str | None
    stream_id: str
    type: str
    command_type: str | None
    correlation_id: str | None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "recorded_at": self.recorded_at.isoformat(),
            "actor": self.actor,
            "stream_id": self.stream_id,
            "type": self.type,
            "command_type": self.command_type,
            "correlation_id": self.correlation_id,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    #: The position to continue after, or None at the end of the log.
    next_after: int | None


def _entry(record: RecordedEvent) -> AuditEntry:
    meta = record.metadata
    return AuditEntry(
        position=record.position,
        recorded_at=record.recorded_at,
        actor=_text(meta.get("actor")),
        stream_id=record.stream_id,
        type=record.type,
        command_type=_text(meta.get("command_type")),
        correlation_id=_text(meta.get("correlation_id")),
        data=strip_sealed(record.data),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


class AuditTrail:
    """Reads the trail of one store; ``cipher`` opens personal fields for display."""

    def __init__(self, store: EventStore, *, cipher: SubjectCipher | None = None) -> None:
        self.store = store
        self.cipher = cipher

    async def page(
        self,
        tenant_id: str | None,
        query: AuditQuery = AuditQuery(),
        *,
        after: int = 0,
        limit: int = DEFAULT_PAGE,
    ) -> AuditPage:
        """Up to ``limit`` matching entries after position ``after``, oldest first."""
        if isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
        if isinstance(after, bool) or after < 0:
            raise InvalidInput("after must be a non-negative position")
        matched: list[RecordedEvent] = []
        scanned = 0
        last = after
        async for record in self.store.read_all(
            after=after, limit=SCAN_LIMIT, types=query.types or None, tenant_id=tenant_id
        ):
            scanned += 1
            last = record.position
            if query.matches(record):
                matched.append(record)
                if len(matched) == limit:
                    break
        if self.cipher is not None:
            matched = await self.cipher.open(matched)
        # A full page or a full scan may have more behind it; anything less reached the end.
        more = len(matched) == limit or scanned == SCAN_LIMIT
        return AuditPage([_entry(r) for r in matched], last if more else None)

    async def entries(
        self, tenant_id: str | None, query: AuditQuery = AuditQuery()
    ) -> AsyncIterator[AuditEntry]:
        """Every matching entry, page by page (for exports)."""
        after = 0
        while True:
            page = await self.page(tenant_id, query, after=after, limit=MAX_PAGE)
            for entry in page.entries:
                yield entry
            if page.next_after is None:
                return
            after = page.next_after


def to_csv(entries: Iterable[AuditEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow(
            [
                e.position,
                e.recorded_at.isoformat(),
                e.actor or "",
                e.stream_id,
                e.type,
                e.command_type or "",
                e.correlation_id or "",
                orjson.dumps(e.data, option=orjson.OPT_SORT_KEYS).decode(),
            ]
        )
    return out.getvalue()
