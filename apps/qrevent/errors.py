"""QR Event's errors: each a stable machine-readable code and one HTTP status."""

from __future__ import annotations

from typing import ClassVar

from headwater.errors import Forbidden, HeadwaterError, InvalidInput, NotFound


class QrEventError(HeadwaterError):
    """Root of the app's deliberate refusals."""

    code = "qrevent_error"
    http_status: ClassVar[int] = 400


class NotInTenant(NotFound):
    """Unknown here: absent, or another organizer's (never say which)."""

    code = "not_found"


class DisplayOnly(Forbidden):
    """A venue screen's display credential asked for more than its event's boards."""

    code = "display_only"


class InvalidTransition(QrEventError):
    """The event's lifecycle does not allow this step (e.g. closed → live)."""

    code = "invalid_transition"
    http_status = 409


class UnknownGate(InvalidInput):
    code = "unknown_gate"


class ScanIdReused(InvalidInput):
    """A device sent a ``scan_id`` it used before at this event, with another code.

    Refused like an ``Idempotency-Key`` reused with another payload (422): answering
    with the first scan's decision would show green for a code this scan did not read.
    """

    code = "scan_id_reused"
    http_status: ClassVar[int] = 422


class AmbiguousScanId(InvalidInput):
    """An undo named a scan id that several devices sent at this event: say whose."""

    code = "ambiguous_scan_id"


class UndoWindowPassed(QrEventError):
    code = "undo_window_passed"
    http_status = 409


class NothingToUndo(QrEventError):
    code = "nothing_to_undo"
    http_status = 409


class InvitationRevoked(QrEventError):
    code = "invitation_revoked"
    http_status = 409


class AlreadyAnswered(QrEventError):
    """One answer per question per participant: the first one stands."""

    code = "already_answered"
    http_status = 409
