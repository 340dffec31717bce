"""Typed ids; prefixes keep every QR Event stream apart from other apps' streams."""

from __future__ import annotations

from headwater.domain import AggregateId


class EventId(AggregateId, prefix="qevent"):
    pass


class GuestId(AggregateId, prefix="qguest"):
    pass


class FamilyId(AggregateId, prefix="qfamily"):
    pass


class InvitationId(AggregateId, prefix="qinvite"):
    pass


class GameId(AggregateId, prefix="qgame"):
    pass
