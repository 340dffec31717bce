"""Every error Headwater raises on purpose, in one place.

The tree is shallow so that callers can catch at the level they care about,
and the HTTP layer can map each class to exactly one status and code::

    HeadwaterError
    ├── InvalidInput                 (bad arguments from a caller: 400/422)
    │   ├── InvalidStreamId
    │   ├── InvalidEventData
    │   ├── InvalidExpectedVersion
    │   └── UnknownBackend
    ├── ConcurrencyError             (expected version did not match: 409)
    ├── DuplicateEventId             (an event id reused for other content: 409)
    ├── NotFound                     (404)
    │   └── StreamNotFound
    ├── Forbidden                    (403)
    │   └── TenantMismatch
    └── StoreUnavailable             (the backend cannot be reached or failed: 503)
        └── SchemaNotMigrated

Driver errors never leak: backends translate them at the boundary with
``raise ... from exc`` so the original cause stays in the traceback.
"""

from __future__ import annotations

from typing import Any, ClassVar


class HeadwaterError(Exception):
    """Root of every error Headwater raises on purpose."""

    #: A stable, machine-readable code, used as-is in HTTP error bodies.
    code: ClassVar[str] = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidInput(HeadwaterError):
    """A caller passed something the API cannot accept; nothing was written."""

    code = "validation_failed"


class InvalidStreamId(InvalidInput):
    code = "invalid_stream_id"


class InvalidEventData(InvalidInput):
    code = "invalid_event_data"


class InvalidExpectedVersion(InvalidInput):
    code = "invalid_expected_version"


class UnknownBackend(InvalidInput):
    code = "unknown_backend"


class ConcurrencyError(HeadwaterError):
    """The stream was not at the version the writer expected; nothing was written."""

    code = "conflict"

    def __init__(self, stream_id: str, expected: object, actual: int | None) -> None:
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, expected {expected}",
            stream_id=stream_id,
            expected=str(expected),
            actual=actual,
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class DuplicateEventId(HeadwaterError):
    """An event id that is already stored was sent again with other content."""

    code = "duplicate_event_id"

    def __init__(self, event_id: str, stream_id: str, reason: str) -> None:
        super().__init__(
            f"event id {event_id} is already stored ({reason})",
            event_id=event_id,
            stream_id=stream_id,
        )
        self.event_id = event_id
        self.stream_id = stream_id


class NotFound(HeadwaterError):
    code = "not_found"


class StreamNotFound(NotFound):
    def __init__(self, stream_id: str) -> None:
        super().__init__(f"stream {stream_id!r} does not exist", stream_id=stream_id)
        self.stream_id = stream_id


class Forbidden(HeadwaterError):
    code = "forbidden"


class TenantMismatch(Forbidden):
    """A stream belongs to one tenant and was written or read as another."""

    code = "tenant_mismatch"

    def __init__(self, stream_id: str) -> None:
        # The owning tenant is deliberately not named: that would leak it.
        super().__init__(f"stream {stream_id!r} belongs to another tenant", stream_id=stream_id)
        self.stream_id = stream_id


class StoreUnavailable(HeadwaterError):
    code = "unavailable"


class SchemaNotMigrated(StoreUnavailable):
    code = "schema_not_migrated"
