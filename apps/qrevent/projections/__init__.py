"""QR Event's read models: inline projections, so a read after a write sees it."""

from __future__ import annotations

from apps.qrevent.projections.checkin import checkin
from apps.qrevent.projections.directory import directory
from apps.qrevent.projections.games import games
from headwater.projections import Projection

PROJECTIONS: tuple[Projection, ...] = (directory, checkin, games)

__all__ = ["PROJECTIONS", "checkin", "directory", "games"]
