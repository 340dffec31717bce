"""One append on its way through the PostgreSQL writer, and what the append
functions' result rows mean.

The request is encoded (JSON) in the appending task, so that the writer only
concatenates; it also carries what its inline handlers' statements were prepared
with (see ``postgres_handlers``), which the writer checks before sending it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import orjson
import psycopg

from headwater.errors import (
    ConcurrencyError,
    DuplicateEventId,
    InlineHandlerFailed,
    InvalidEventData,
    StoreUnavailable,
    TenantMismatch,
)
from headwater.eventstore import _codec as codec
from headwater.eventstore._protocol import InlineHandler
from headwater.eventstore._records import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    ExpectedVersion,
    NewEvent,
    RecordedEvent,
)


def _json_default(value: object) -> object:
    # Event data is any Mapping (checked by records.check_json_object); orjson
    # serialises only dicts natively.
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def to_json(value: object) -> str:
    try:
        return orjson.dumps(value, default=_json_default).decode()
    except orjson.JSONEncodeError as exc:  # e.g. a lone surrogate in a string
        raise InvalidEventData(f"event cannot be encoded as JSON: {exc}") from exc


@dataclass(slots=True)
class AppendRequest:
    stream_id: str
    events: list[NewEvent]
    expected: ExpectedVersion
    tenant_id: str | None
    future: asyncio.Future[AppendResult]
    #: This append as one element of hw_append_batch's JSON array, encoded by the
    #: caller's task so the writer only concatenates.
    payload: str = ""
    #: The inline handlers' statements, prepared ahead (see postgres_handlers), or
    #: None: they cannot be, and this append takes the slow path. Encoded as JSON for
    #: hw_run_statements only if the group is sent to hw_append_handled.
    prepared: list[Any] | None = field(default_factory=list)
    #: What they were prepared with: the handlers, and the epoch the writer had seen.
    handlers: tuple[InlineHandler, ...] = ()
    epoch: int = -1
    #: What the handlers asked to run once this append has committed (after_commit),
    #: and whether it did write (a replay of stored events runs none of them).
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    wrote: bool = False
    #: When (``time.monotonic()``) the writer owes this append an answer: set at
    #: submission from the events queued ahead of it, pushed back by the events that
    #: join its group commit after it (a bulk load's). A caller waits until then, and
    #: readiness fails past it.
    due: float = 0.0

    def __post_init__(self) -> None:
        expected: int | None
        if self.expected is ANY:
            expected = None
        elif self.expected is STREAM_EXISTS:
            expected = -1
        else:  # NO_STREAM and 0 mean the same: no events yet
            expected = self.expected if isinstance(self.expected, int) else 0
        self.payload = to_json(
            {
                "s": self.stream_id,
                "t": self.tenant_id,
                "e": expected,
                "ev": [
                    {"id": e.id, "type": e.type, "data": e.data, "m": e.metadata or {}}
                    for e in self.events
                ],
            }
        )

    def document(self) -> str:
        """This append with its statements, as hw_append_handled takes it."""
        statements = to_json(self.prepared) if self.prepared else "[]"
        return f'{self.payload[:-1]},"h":{self.epoch},"q":{statements}}}'

    def bare_document(self) -> str:
        """This append without its statements, as hw_append_merged takes it."""
        return f'{self.payload[:-1]},"h":{self.epoch}}}'

    def decoded(self) -> list[tuple[Any, Any]]:
        """Each event's (data, metadata) as a reader will decode them: from the
        payload, which is what PostgreSQL stores (one decode, not an encode and a
        decode per event)."""
        return [(event["data"], event["m"]) for event in orjson.loads(self.payload)["ev"]]

    def exact_first_version(self) -> int | None:
        """The version of this append's first event if it is 'ok', when known ahead."""
        expected = self.expected
        if isinstance(expected, int):
            return expected + 1
        return 1 if expected is NO_STREAM else None

    def first_version_guess(self) -> int:
        expected = self.expected
        if isinstance(expected, int):
            return expected + 1
        return 1 if expected is NO_STREAM else 2


Outcome: TypeAlias = AppendResult | BaseException


def handler_error(state: str | None, message: str | None) -> Exception:
    """What a failed handler statement raises, as the slow path would have raised it."""
    text = message or "an inline handler's statement failed"
    if state and state.startswith("23"):  # integrity: a broken constraint
        return InlineHandlerFailed(text)
    error_class: type[psycopg.Error] = psycopg.errors.lookup(state) if state else psycopg.Error
    return error_class(text)


def outcome_of(request: AppendRequest, row: Sequence[Any]) -> Outcome:
    """Turn one result row of hw_append_batch into a result or the error to raise."""
    _index, status, version, first, positions, event_id, _recorded = row[:7]
    if status == "ok":
        return AppendResult(
            request.stream_id, version, tuple(range(first, first + len(request.events)))
        )
    if status == "replay":
        return AppendResult(request.stream_id, version, tuple(positions))
    if status == "conflict":
        return ConcurrencyError(request.stream_id, request.expected, version)
    if status == "tenant":
        return TenantMismatch(request.stream_id)
    if status == "id_elsewhere":
        return DuplicateEventId(str(event_id), request.stream_id, "stored in another stream")
    if status == "id_taken":
        return DuplicateEventId(str(event_id), request.stream_id, "stored by another append")
    if status == "id_differs":
        return DuplicateEventId(str(event_id), request.stream_id, "stored with other content")
    return StoreUnavailable(f"hw_append_batch returned an unknown outcome {status!r}")


def recorded_events(request: AppendRequest, row: Sequence[Any]) -> list[RecordedEvent]:
    """The events of a successful append, as a reader will see them later."""
    _index, _status, version, first_position, _positions, _event_id, recorded_at = row[:7]
    first_version = version - len(request.events) + 1
    return [
        RecordedEvent(
            id=event.id,
            stream_id=request.stream_id,
            version=first_version + offset,
            position=first_position + offset,
            type=event.type,
            # Through JSON, so handlers see exactly what a reader would decode.
            data=codec.loads(to_json(event.data)),
            metadata=codec.loads(to_json(event.metadata or {})),
            tenant_id=request.tenant_id,
            recorded_at=recorded_at,
        )
        for offset, event in enumerate(request.events)
    ]
