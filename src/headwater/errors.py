"""Every error Headwater raises on purpose, in one place.

The tree is shallow so that callers can catch at the level they care about,
and the HTTP layer can map each class to exactly one status and code::

    HeadwaterError
    ├── InvalidInput                 (bad arguments from a caller: 400/422)
    │   ├── InvalidStreamId
    │   ├── InvalidEventData
    │   ├── InvalidExpectedVersion
    │   ├── UnknownBackend
    │   ├── CommandIdReused          (same command id, other command: 422)
    │   ├── InvalidCursor            (a pagination cursor we did not issue, or stale)
    │   ├── UnsupportedSort          (a list sorted by a column it does not declare)
    │   ├── InvalidChannel           (a malformed channel name: ``bad_channel``)
    │   │   └── UnknownChannelKind   (no policy registered for the kind: ``unknown_channel``)
    │   ├── InvalidReadModel         (a table or projection declaration is wrong)
    │   ├── UnknownColumn            (a query names an undeclared column)
    │   ├── InvalidJob               (a job name, payload or option is wrong)
    │   ├── RestoreRefused           (a restore into a non-empty store, or to no backup)
    │   ├── InvalidTarget            (a backup target URL or key that cannot be used)
    │   ├── ExperimentStateError     (an experiment asked to do what its state forbids)
    │   ├── InvalidCapture           (an analytics capture body that does not validate)
    │   └── InvalidAlertRule         (an alert rule that cannot be evaluated as given)
    ├── ConcurrencyError             (expected version did not match: 409)
    │   └── MergeConflict            (base, mine, theirs; nothing may merge: 409)
    ├── DuplicateEventId             (an event id reused for other content: 409)
    ├── InlineHandlerFailed          (an inline projection broke a constraint: 409)
    ├── EmailTaken                   (an account with this email exists: 409)
    ├── AlertRuleExists              (an alert rule with this name exists: 409)
    ├── NotFound                     (404)
    │   ├── StreamNotFound
    │   ├── AggregateVersionNotFound (time travel past the head)
    │   ├── ReviewNotFound
    │   ├── UnknownProjection
    │   ├── UnknownQuery             (no handler registered for a query type)
    │   ├── JobNotFound
    │   ├── ExperimentNotFound
    │   ├── UnknownDeclaration       (no such funnel or retention table)
    │   └── AlertRuleNotFound
    ├── UnknownEventType             (a stored type/version this code cannot read: 500)
    │   └── MissingUpcaster
    ├── EventTypeConflict            (two classes claim one type name: a bug at import)
    ├── AggregateStateError          (state changed outside ``when``; unhandled event)
    ├── CommandNotRegistered         (no handler for a command type)
    ├── ChangeEscalated              (parked for an admin's review: 202, not a failure)
    ├── ReviewAlreadyDecided         (409)
    ├── ProjectionFenced             (a checkpoint moved under a runner; retried inside)
    ├── LogRewound                   (the log lost events a reader saw: failover, restore; 409)
    ├── IllegalTransition            (a state change a state machine forbids: a bug, 500)
    │   └── IllegalJobTransition     (a job asked to move where it cannot: 409)
    ├── PermanentJobError            (raised by a job handler: retrying cannot help)
    ├── Unauthorized                 (no valid credentials: 401)
    │   ├── InvalidCredentials       (login failed; never says whether the email exists)
    │   ├── TokenInvalid             (forged, malformed, wrong type or algorithm)
    │   ├── TokenExpired
    │   ├── TokenRevoked             (logged out, signed out everywhere, account disabled)
    │   ├── RefreshTokenReused       (a rotated refresh token came back: family revoked)
    │   └── ApiKeyInvalid            (unknown, wrong secret or revoked)
    ├── Forbidden                    (403)
    │   ├── TenantMismatch
    │   ├── CsrfFailed               (a cookie-authenticated unsafe request, no token)
    │   └── ChannelForbidden         (the principal may not follow this channel)
    ├── UpgradeRequired              (a plain HTTP GET on the WebSocket endpoint: 426)
    ├── RateLimited                  (429, with Retry-After)
    ├── OutboundFailed               (a call out failed; the message is a short reason)
    │   └── AddressNotAllowed        (the target resolves to a refused address)
    ├── BackupError                  (a backup target or its contents: 500)
    │   ├── BackupObjectMissing      (the target has no object under the key)
    │   └── BackupCorrupt            (a checksum, chain link or range check failed)
    ├── PluginError                  (a plugin failed to load, configure or start)
    └── StoreUnavailable             (the backend cannot be reached or failed: 503)
        ├── SchemaNotMigrated
        ├── RebuildInProgress        (another rebuild of the projection is running)
        ├── CircuitOpen              (a breaker refused the call without trying)
        ├── BulkheadFull             (every slot and queue place of a bulkhead is taken)
        ├── CallTimeout              (a dependency missed its deadline)
        └── AppendIndeterminate      (an append missed its deadline: it may have committed)

Packages do not define framework errors of their own: every class is here, so the
tree above is the whole of it. (An app may subclass these in its own module.)
A class may set ``http_status`` to override the HTTP layer's mapping by base class.
Driver errors never leak: backends translate them at the boundary with
``raise ... from exc`` so the original cause stays in the traceback.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

__all__ = [
    "AddressNotAllowed",
    "AggregateStateError",
    "AggregateVersionNotFound",
    "AlertRuleExists",
    "AlertRuleNotFound",
    "ApiKeyInvalid",
    "AppendIndeterminate",
    "BackupCorrupt",
    "BackupError",
    "BackupObjectMissing",
    "BulkheadFull",
    "CallTimeout",
    "ChangeEscalated",
    "ChannelForbidden",
    "CircuitOpen",
    "CommandIdReused",
    "CommandNotRegistered",
    "ConcurrencyError",
    "CsrfFailed",
    "DuplicateEventId",
    "EmailTaken",
    "EventTypeConflict",
    "ExperimentNotFound",
    "ExperimentStateError",
    "Forbidden",
    "HeadwaterError",
    "IllegalJobTransition",
    "IllegalTransition",
    "InlineHandlerFailed",
    "InvalidAlertRule",
    "InvalidCapture",
    "InvalidChannel",
    "InvalidCredentials",
    "InvalidCursor",
    "InvalidEventData",
    "InvalidExpectedVersion",
    "InvalidInput",
    "InvalidJob",
    "InvalidReadModel",
    "InvalidStreamId",
    "InvalidTarget",
    "JobNotFound",
    "LogRewound",
    "MergeConflict",
    "MissingUpcaster",
    "NotFound",
    "OutboundFailed",
    "PermanentJobError",
    "PluginError",
    "ProjectionFenced",
    "RateLimited",
    "RebuildInProgress",
    "RefreshTokenReused",
    "RestoreRefused",
    "ReviewAlreadyDecided",
    "ReviewNotFound",
    "SchemaNotMigrated",
    "StoreUnavailable",
    "StreamNotFound",
    "TenantMismatch",
    "TokenExpired",
    "TokenInvalid",
    "TokenRevoked",
    "Unauthorized",
    "UnknownBackend",
    "UnknownChannelKind",
    "UnknownColumn",
    "UnknownDeclaration",
    "UnknownEventType",
    "UnknownProjection",
    "UnknownQuery",
    "UnsupportedSort",
    "UpgradeRequired",
]


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


class InlineHandlerFailed(HeadwaterError):
    """An inline projection's statement broke a constraint; the append wrote nothing.

    Usually a uniqueness rule of a read model (e.g. an email already taken).
    """

    code = "constraint_violation"
    http_status: ClassVar[int] = 409


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


class Unauthorized(HeadwaterError):
    """Credentials are missing where required, or present but expired, forged or revoked."""

    code = "unauthorized"


class Forbidden(HeadwaterError):
    code = "forbidden"


class TenantMismatch(Forbidden):
    """A stream belongs to one tenant and was written or read as another."""

    code = "tenant_mismatch"

    def __init__(self, stream_id: str) -> None:
        # The owning tenant is deliberately not named: that would leak it.
        super().__init__(f"stream {stream_id!r} belongs to another tenant", stream_id=stream_id)
        self.stream_id = stream_id


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"

    def __init__(self) -> None:
        # One message for every cause (unknown email, wrong password, disabled):
        # anything more precise lets a caller enumerate accounts.
        super().__init__("the email or password is not correct")


class TokenInvalid(Unauthorized):
    code = "token_invalid"


class TokenExpired(Unauthorized):
    code = "token_expired"


class TokenRevoked(Unauthorized):
    code = "token_revoked"


class RefreshTokenReused(Unauthorized):
    code = "refresh_token_reused"

    def __init__(self) -> None:
        super().__init__(
            "this refresh token was already used; its whole session is now revoked (sign in again)"
        )


class ApiKeyInvalid(Unauthorized):
    code = "api_key_invalid"

    def __init__(self) -> None:
        super().__init__("the API key is not valid (unknown, wrong secret or revoked)")


class CsrfFailed(Forbidden):
    code = "csrf_failed"


class EmailTaken(HeadwaterError):
    code = "email_taken"
    http_status: ClassVar[int] = 409

    def __init__(self) -> None:
        super().__init__("an account with this email already exists")


class RateLimited(HeadwaterError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class StoreUnavailable(HeadwaterError):
    code = "unavailable"


class SchemaNotMigrated(StoreUnavailable):
    code = "schema_not_migrated"


# --- the write side: events, aggregates, commands, conflicts ---------------------------


class UnknownEventType(HeadwaterError):
    """A stored event whose type (or schema version) no registered class can read."""

    code = "unknown_event_type"

    def __init__(self, event_type: str, version: int, reason: str) -> None:
        super().__init__(
            f"cannot read event {event_type!r} v{version}: {reason}",
            event_type=event_type,
            version=version,
        )
        self.event_type = event_type
        self.version = version


class MissingUpcaster(UnknownEventType):
    """The chain from a stored schema version to the current one has a gap."""

    code = "missing_upcaster"


class EventTypeConflict(HeadwaterError):
    """Two different classes were registered under one event type name."""

    code = "event_type_conflict"


class AggregateStateError(HeadwaterError):
    """An aggregate's state was changed other than by applying one of its events."""

    code = "aggregate_state_error"


class AggregateVersionNotFound(NotFound):
    """A version (or timestamp) asked for does not exist in the aggregate's stream."""

    def __init__(self, stream_id: str, version: int, head: int) -> None:
        super().__init__(
            f"stream {stream_id!r} has no version {version} (it is at {head})",
            stream_id=stream_id,
            version=version,
            head=head,
        )
        self.stream_id = stream_id
        self.version = version
        self.head = head


class CommandNotRegistered(HeadwaterError):
    code = "command_not_registered"


class CommandIdReused(InvalidInput):
    """A command id that already produced a result was sent with another command."""

    code = "command_id_reused"
    #: As the IETF Idempotency-Key draft asks for a key reused with another payload.
    http_status: ClassVar[int] = 422

    def __init__(self, command_id: uuid.UUID) -> None:
        super().__init__(
            f"command id {command_id} was already used for a different command",
            command_id=str(command_id),
        )
        self.command_id = command_id


class MergeConflict(ConcurrencyError):
    """A write based on an old version conflicts with newer changes, and may not merge.

    ``base`` is the state the writer saw, ``mine`` what the write would make of it,
    ``theirs`` the current state; ``fields`` names the paths that conflict.
    """

    code = "merge_conflict"

    def __init__(
        self,
        stream_id: str,
        *,
        based_on_version: int,
        current_version: int,
        base: dict[str, Any],
        mine: dict[str, Any],
        theirs: dict[str, Any],
        fields: Sequence[str],
        reason: str = "",
    ) -> None:
        super().__init__(stream_id, based_on_version, current_version)
        self.message = (
            f"stream {stream_id!r}: the change based on version {based_on_version} conflicts "
            f"with version {current_version} on {', '.join(fields) or 'its effect'}"
            + (f" ({reason})" if reason else "")
        )
        self.args = (self.message,)
        self.details.update(
            based_on_version=based_on_version,
            current_version=current_version,
            fields=list(fields),
            base=base,
            mine=mine,
            theirs=theirs,
        )
        self.based_on_version = based_on_version
        self.current_version = current_version
        self.base = base
        self.mine = mine
        self.theirs = theirs
        self.fields = tuple(fields)


class ChangeEscalated(HeadwaterError):
    """A write touched a critical field in conflict; it waits for an admin's review.

    Not a failure: nothing was lost, and accepting the review applies the change.
    """

    code = "escalated"
    http_status: ClassVar[int] = 202

    def __init__(self, review_id: str, stream_id: str, fields: Sequence[str]) -> None:
        super().__init__(
            f"the change to {stream_id!r} conflicts on critical fields "
            f"{', '.join(fields)} and waits for review {review_id}",
            review_id=review_id,
            stream_id=stream_id,
            fields=list(fields),
        )
        self.review_id = review_id
        self.stream_id = stream_id
        self.fields = tuple(fields)


class ReviewNotFound(NotFound):
    def __init__(self, review_id: str) -> None:
        super().__init__(f"review {review_id} does not exist", review_id=review_id)
        self.review_id = review_id


class ReviewAlreadyDecided(HeadwaterError):
    code = "review_already_decided"
    http_status: ClassVar[int] = 409

    def __init__(self, review_id: str, status: str) -> None:
        super().__init__(f"review {review_id} is already {status}", review_id=review_id)
        self.review_id = review_id
        self.status = status


# --- resilience: calls refused before they reached a dependency ----------------------


class CircuitOpen(StoreUnavailable):
    """The breaker is open: the call was refused without trying the dependency."""

    code = "circuit_open"

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(
            f"{name} is failing; calls are paused for {retry_after:.1f}s",
            dependency=name,
            retry_after=retry_after,
        )
        self.name = name
        self.retry_after = retry_after


class BulkheadFull(StoreUnavailable):
    """Every slot and every queue place of a bulkhead is taken."""

    code = "bulkhead_full"

    def __init__(self, name: str, max_concurrent: int, max_queue: int) -> None:
        super().__init__(
            f"{name} is at capacity ({max_concurrent} running, {max_queue} waiting)",
            dependency=name,
        )
        self.name = name


class CallTimeout(StoreUnavailable):
    """A call to a dependency took longer than its deadline and was cancelled."""

    code = "timeout"

    def __init__(self, name: str, seconds: float) -> None:
        super().__init__(f"{name} did not answer within {seconds:g}s", dependency=name)
        self.name = name
        self.seconds = seconds


class AppendIndeterminate(StoreUnavailable):
    """An append got no answer within its deadline: it may or may not have committed.

    The connection it used is discarded. Retrying with the same event ids is safe:
    if the first attempt committed, the retry returns its result and writes nothing.
    """

    code = "append_indeterminate"

    def __init__(self, stream_id: str, seconds: float) -> None:
        super().__init__(
            f"the append to {stream_id!r} got no answer within {seconds:g}s; it may have "
            "committed: retry it with the same event ids",
            stream_id=stream_id,
        )
        self.stream_id = stream_id
        self.seconds = seconds


# --- the read side: projections, read models, queries ---------------------------------


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"


class UnsupportedSort(InvalidInput):
    """A list asked to sort by a column it does not declare (``details.allowed``)."""

    code = "unsupported_sort"


# --- channels: who may follow what (headwater.identity._channels) ----------------------


class InvalidChannel(InvalidInput):
    code = "bad_channel"


class UnknownChannelKind(InvalidChannel):
    code = "unknown_channel"


class InvalidReadModel(InvalidInput):
    code = "invalid_read_model"


class UnknownColumn(InvalidInput):
    code = "unknown_column"

    def __init__(self, table: str, column: str) -> None:
        super().__init__(f"table {table!r} has no column {column!r}", table=table, column=column)
        self.table = table
        self.column = column


class UnknownProjection(NotFound):
    code = "unknown_projection"

    def __init__(self, name: str) -> None:
        super().__init__(f"no projection named {name!r}", name=name)
        self.name = name


class UnknownQuery(NotFound):
    code = "unknown_query"


class LogRewound(HeadwaterError):
    """The log no longer holds the event a reader last saw at ``last_seen``.

    A PostgreSQL standby promoted after asynchronous replication lost the newest
    commits, or a SQLite file was restored from an older copy: the head went
    backwards, and new events may since have been given the lost positions. A
    reader that simply went on from ``last_seen`` would skip those new events, so
    it is stopped instead. ``valid_through`` is the highest position known to be
    unchanged (``None`` when the reader cannot tell: start over from 0 then);
    ``head`` is the head when the rewind was noticed.
    """

    code = "log_rewound"
    http_status: ClassVar[int] = 409

    def __init__(self, last_seen: int, head: int, valid_through: int | None = None) -> None:
        super().__init__(
            f"the log was rewound: position {last_seen} is no longer the event this reader "
            f"saw there (head now {head}); resync from "
            f"{0 if valid_through is None else valid_through}",
            last_seen=last_seen,
            head=head,
            valid_through=valid_through,
        )
        self.last_seen = last_seen
        self.head = head
        self.valid_through = valid_through

    @property
    def resync_from(self) -> int:
        """Where a reader can safely start again: nothing at or below it changed."""
        return 0 if self.valid_through is None else self.valid_through


class ProjectionFenced(HeadwaterError):
    """The stored checkpoint is not where this runner left it (a rebuild swapped the
    tables, or another instance of the runner committed first). Nothing was written;
    the runner reloads the checkpoint and carries on from there."""

    code = "projection_fenced"

    def __init__(self, name: str, expected: int, actual: int | None) -> None:
        super().__init__(
            f"projection {name!r} is at {actual}, this runner expected {expected}",
            name=name,
            expected=expected,
            actual=actual,
        )
        self.name = name
        self.expected = expected
        self.actual = actual


class RebuildInProgress(StoreUnavailable):
    code = "rebuild_in_progress"
    #: Asking for a second rebuild conflicts with the one running; retry when it ends.
    http_status: ClassVar[int] = 409

    def __init__(self, name: str) -> None:
        super().__init__(f"projection {name!r} is being rebuilt already", name=name)
        self.name = name


# --- state machines (WebSocket connections, circuit breakers, jobs) -------------------


class IllegalTransition(HeadwaterError):
    """A state machine was asked for a move its diagram does not have.

    The machines (``realtime.connection``, ``resilience.breaker``, ``jobs.job``) are
    explicit so that an impossible move fails loudly here rather than corrupting state.
    """

    code = "illegal_transition"

    def __init__(self, machine: str, source: str, target: str, **details: Any) -> None:
        super().__init__(
            f"{machine} cannot go from {source} to {target}",
            machine=machine,
            source=source,
            target=target,
            **details,
        )
        self.source = source
        self.target = target


# --- jobs ---------------------------------------------------------------------------


class InvalidJob(InvalidInput):
    code = "invalid_job"


class JobNotFound(NotFound):
    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r}", job_id=job_id)
        self.job_id = job_id


class IllegalJobTransition(IllegalTransition):
    """A job was asked to move between two states the state machine does not connect.

    Unlike its parent this is a caller's mistake the API can report (retrying a job
    that is running, cancelling one that finished), hence 409 rather than 500.
    """

    code = "illegal_job_transition"
    http_status: ClassVar[int] = 409

    def __init__(self, job_id: str | None, source: str, target: str) -> None:
        super().__init__(f"job {job_id}" if job_id else "a job", source, target, job_id=job_id)
        self.job_id = job_id


class PermanentJobError(HeadwaterError):
    """Raised by a handler when retrying cannot help: the job goes to DEAD at once."""

    code = "permanent_job_error"


class OutboundFailed(HeadwaterError):
    """A call out (a webhook, an alert channel) failed.

    The message is a short reason ("connection refused", "HTTP 500", "timed out")
    that may be shown to the tenant who configured the target: never the receiver's
    body, a traceback or a path of ours.
    """

    code = "outbound_failed"
    http_status: ClassVar[int] = 502


class AddressNotAllowed(OutboundFailed):
    """The target is (or resolves to) loopback, private, link-local, multicast,
    unspecified or otherwise not public, and no operator allowed it."""

    code = "address_not_allowed"


# --- realtime: the WebSocket endpoint ---------------------------------------------------


class ChannelForbidden(Forbidden):
    """Deliberately says nothing about whether the channel has events or whose they are."""

    def __init__(self, channel: str) -> None:
        super().__init__(f"you may not follow channel {channel!r}", channel=channel)


class UpgradeRequired(HeadwaterError):
    code = "upgrade_required"
    http_status: ClassVar[int] = 426
    headers: ClassVar[dict[str, str]] = {"Upgrade": "websocket", "Connection": "Upgrade"}


# --- backups --------------------------------------------------------------------------


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


# --- plugins --------------------------------------------------------------------------


class PluginError(HeadwaterError):
    """A plugin could not be loaded, configured or started; start-up stops here.

    The message starts with ``plugin '<name>'`` so an operator reading a failed
    deploy's last log line knows which package to look at.
    """

    code = "plugin_failed"

    def __init__(self, plugin: str, stage: str, reason: str, **details: Any) -> None:
        super().__init__(
            f"plugin {plugin!r} failed to {stage}: {reason}", plugin=plugin, stage=stage, **details
        )
        self.plugin = plugin
        self.stage = stage


# --- experiments and analytics --------------------------------------------------------


class ExperimentNotFound(NotFound):
    code = "experiment_not_found"


class ExperimentStateError(InvalidInput):
    code = "experiment_state"


class UnknownDeclaration(NotFound):
    code = "analytics_not_declared"


class InvalidCapture(InvalidInput):
    code = "invalid_capture"


# --- alert rules ----------------------------------------------------------------------


class InvalidAlertRule(InvalidInput):
    code = "invalid_alert_rule"


class AlertRuleNotFound(NotFound):
    code = "alert_rule_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"no alert rule named {name!r}", rule=name)


class AlertRuleExists(HeadwaterError):
    code = "alert_rule_exists"
    http_status: ClassVar[int] = 409

    def __init__(self, name: str) -> None:
        super().__init__(f"an alert rule named {name!r} exists already", rule=name)
