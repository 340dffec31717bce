"""QR Event's cached reads (seed 002's policies) and the bus that invalidates them.

=====================  ==========  ===========================================
read                   policy      invalidated by the tags of
=====================  ==========  ===========================================
event lists, details   FREQUENT    ``qe_events``
game configurations    STATIC      ``qe_games``
event counts           COMPUTED    ``qe_counts``, ``qe_gate_counts``, ``qe_events``
leaderboards           REALTIME    the game's own tag (``apps.qrevent.leaderboard``)
=====================  ==========  ===========================================

Every cached value is tagged with its read-model tables, narrowed to the tenant
(``tenant_tag(tenant, read_model_tag(table))``). The projections are inline, so a
command's rows are committed when the bus returns: :class:`InvalidatingBus` then
drops the tags of the tables its events' handlers write (:data:`WRITES` per type, or
every table of the projections that handle it; the types come with the bus's result,
nothing is read back; :class:`headwater.cache.InvalidatingBus`), on this node at once
and, through the cache's channel, on every other. A read that follows its own write
therefore never sees the cached value from before it.
"""

from __future__ import annotations

from apps.qrevent.domain import event as ev
from apps.qrevent.domain import game as gm
from apps.qrevent.domain import invitation as inv
from apps.qrevent.domain import people
from apps.qrevent.projections import PROJECTIONS
from apps.qrevent.projections.directory import EVENTS, FAMILIES, GUESTS, INVITATIONS
from apps.qrevent.projections.games import SCORES
from headwater.cache import InvalidatingBus as _InvalidatingBus
from headwater.cache import ReadModels

#: Event types whose handler writes fewer tables than its projection has, and those
#: tables: so a player's answer leaves the game's configuration cached, and a new guest
#: the event list and counts. A type not named here drops every table of each projection
#: that handles it (always safe). Checked against the statements the handlers emit
#: (tests/apps/qrevent/test_caching.py), so a handler that starts writing another
#: table fails a test instead of leaving a stale read.
WRITES: dict[str, frozenset[str]] = {
    cls.event_type: frozenset(t.name for t in tables)
    for cls, tables in (
        (ev.EventCreated, [EVENTS]),
        (ev.EventUpdated, [EVENTS]),
        (ev.EventStatusChanged, [EVENTS]),
        (people.FamilyCreated, [FAMILIES]),
        (people.FamilyRenamed, [FAMILIES]),
        (people.FamilyDeleted, [FAMILIES, GUESTS]),
        (people.GuestRegistered, [GUESTS]),
        (people.GuestUpdated, [GUESTS]),
        (inv.InvitationIssued, [INVITATIONS, GUESTS]),
        (inv.InvitationRevoked, [INVITATIONS]),
        (gm.ParticipantJoined, [SCORES]),
        (gm.AnswerRecorded, [SCORES]),
    )
}


READ_MODELS = ReadModels(PROJECTIONS, WRITES)
tags = READ_MODELS.tags
tables_of = READ_MODELS.tables_of
cached = READ_MODELS.cached


class InvalidatingBus(_InvalidatingBus):
    """QR Event's command bus: drops the cached reads its commands made stale."""

    read_models = READ_MODELS
