"""QR Event's errors: each a stable machine-readable code and one HTTP status."""

from __future__ import annotations

from typing import ClassVar

from headwater.errors import HeadwaterError, InvalidInput, NotFound


class QrEventError(HeadwaterError):
    """Root of the app's deliberate refusals."""

    code = "qrevent_error"
    http_status: ClassVar[int] = 400


class NotInTenant(NotFound):
    """Unknown here: absent, or another organizer's (never say which)."""

    code = "not_found"


class InvalidTransition(QrEventError):
    """The event's lifecycle does not allow this step (e.g. closed → live)."""

    code = "invalid_transition"
    http_status = 409


class UnknownGate(InvalidInput):
    code = "unknown_gate"


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
