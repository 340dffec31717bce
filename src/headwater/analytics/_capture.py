"""Capture: product events in, shaped like PostHog's batch endpoint.

Each event is ``{"event", "distinct_id", "properties", "timestamp", "uuid"}``. A batch
is validated whole before anything is written (one bad event refuses the batch with
its index; nothing half-written), then appended in one append to a stream of its own
(``hw.analytics-<digest>``), so captured events never mix with an app's streams.

Idempotent on ``uuid``: the stored event id is derived from (tenant, uuid), so a
retried batch, or an event resent in another batch, is written once. Events already
stored are dropped before the append; the stream id is a digest of the remaining ids,
so two copies of the same retry racing each other append to the same stream with the
same content, which the store treats as one idempotent append.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from headwater.analytics._actions import CAPTURED
from headwater.errors import DuplicateEventId, InvalidCapture
from headwater.eventstore import EventStore
from headwater.eventstore._records import NewEvent

MAX_BATCH: Final = 1000
MAX_PROPERTIES: Final = 100
MAX_PROPERTY_KEY: Final = 100
#: Encoded size of one event's properties: large blobs belong elsewhere.
MAX_PROPERTIES_BYTES: Final = 8192
#: A client clock this far ahead is wrong, not early.
MAX_FUTURE: Final = timedelta(hours=1)

NoControl = r"^[^\x00-\x1f\x7f]+$"


class CaptureEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: Annotated[str, Field(min_length=1, max_length=200, pattern=NoControl)]
    distinct_id: Annotated[str, Field(min_length=1, max_length=200, pattern=NoControl)]
    properties: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime | None = None
    uuid: UUID | None = None

    @field_validator("properties")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > MAX_PROPERTIES:
            raise ValueError(f"at most {MAX_PROPERTIES} properties")
        for key in value:
            if not key or len(key) > MAX_PROPERTY_KEY:
                raise ValueError(f"property names are 1 to {MAX_PROPERTY_KEY} characters")
        try:
            size = len(orjson.dumps(value))
        except (TypeError, orjson.JSONEncodeError) as exc:
            raise ValueError("properties must be plain JSON") from exc
        if size > MAX_PROPERTIES_BYTES:
            raise ValueError(
                f"properties take {size} bytes encoded, at most {MAX_PROPERTIES_BYTES}"
            )
        return value

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("a timestamp needs a time zone (e.g. 2025-01-01T12:00:00Z)")
        return value


class CaptureBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch: list[CaptureEvent] = Field(min_length=1, max_length=MAX_BATCH)
    #: PostHog clients send their project key in the body; the caller's credentials
    #: (API key header or token) are what authenticate here, so it is accepted and ignored.
    api_key: Annotated[str, Field(max_length=200)] | None = None


@dataclass(frozen=True, slots=True)
class CaptureResult:
    received: int
    written: int

    @property
    def duplicates(self) -> int:
        return self.received - self.written


def parse_batch(body: object) -> CaptureBatch:
    """Validate a decoded body; 422-shaped ``InvalidCapture`` listing every problem."""
    try:
        return CaptureBatch.model_validate(body)
    except ValidationError as exc:
        problems = [
            {"at": ".".join(str(p) for p in error["loc"]), "problem": error["msg"]}
            for error in exc.errors()[:20]
        ]
        raise InvalidCapture(
            "the batch was refused; nothing was written", problems=problems
        ) from None


class Capture:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def capture(
        self, tenant_id: str, events: list[CaptureEvent], *, now: datetime | None = None
    ) -> CaptureResult:
        now = now or datetime.now(UTC)
        new: dict[uuid.UUID, NewEvent] = {}
        tenant_key = hashlib.sha256(f"capture\x1f{tenant_id}".encode()).digest()
        for event in events:
            at = event.timestamp or now
            if at > now + MAX_FUTURE:
                raise InvalidCapture(
                    "a timestamp is more than an hour in the future", timestamp=at.isoformat()
                )
            client_id = event.uuid or uuid.uuid4()
            # The stored id: a digest of (tenant, client uuid), so one client uuid is one
            # event per tenant. blake2b keyed by the tenant rather than uuid5: this runs
            # per event, and uuid5's string building cost more than the rest of the loop.
            event_id = uuid.UUID(
                bytes=hashlib.blake2b(client_id.bytes, digest_size=16, key=tenant_key[:32]).digest()
            )
            new.setdefault(
                event_id,
                NewEvent(
                    CAPTURED,
                    {
                        "event": event.event,
                        "distinct_id": event.distinct_id,
                        "properties": event.properties,
                        "timestamp": at.isoformat(),
                        "ts_ms": int(at.timestamp() * 1000),
                        "uuid": str(client_id),
                    },
                    id=event_id,
                ),
            )
        for attempt in range(3):
            fresh = await self._not_stored(list(new))
            if not fresh:
                return CaptureResult(len(events), 0)
            digest = hashlib.sha256(b"".join(sorted(i.bytes for i in fresh))).hexdigest()[:40]
            try:
                await self.store.append(
                    f"hw.analytics-{digest}", [new[i] for i in fresh], tenant_id=tenant_id
                )
            except DuplicateEventId:
                # A concurrent batch stored some of these ids meanwhile: filter again.
                if attempt == 2:
                    raise
                continue
            return CaptureResult(len(events), len(fresh))
        raise AssertionError("unreachable")

    async def _not_stored(self, ids: list[uuid.UUID]) -> list[uuid.UUID]:
        # One indexed read of the log's unique id column for the whole batch (the store's
        # ``read_event`` would be one round trip per event).
        placeholders = ", ".join("?" * len(ids))
        params: list[Any] = [i if self.store.dialect == "postgresql" else str(i) for i in ids]
        rows = await self.store.fetchall(
            f"SELECT id FROM hw_events WHERE id IN ({placeholders})", params
        )
        stored = {
            row[0] if isinstance(row[0], uuid.UUID) else uuid.UUID(str(row[0])) for row in rows
        }
        return [i for i in ids if i not in stored]
