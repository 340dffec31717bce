"""FormEase's cached backoffice figures (seed 002's policies) and the bus that drops them.

==================  ==========  ================================================
read                policy      invalidated by the tags of
==================  ==========  ================================================
form metrics        COMPUTED    ``fe_daily``, ``fe_daily_creators``, ``fe_completion``
user stats          COMPUTED    ``fe_users``, ``fe_user_days``
==================  ==========  ================================================

Each cached value is tagged with the read-model tables it was computed from, narrowed
to the tenant. FormEase's projections are inline (one per table), so a command's rows
are committed when the bus returns: :class:`InvalidatingBus` then drops the tags of
the tables whose projections handle the event types the bus's result names (nothing
is read back), here at once and, through the cache's channel, on every other node.
"""

from __future__ import annotations

from apps.formease.projections import PROJECTIONS
from headwater.cache import InvalidatingBus as _InvalidatingBus
from headwater.cache import ReadModels

#: One projection per table: a type's projections name exactly the tables it writes.
READ_MODELS = ReadModels(PROJECTIONS)
tags = READ_MODELS.tags
tables_of = READ_MODELS.tables_of
cached = READ_MODELS.cached


class InvalidatingBus(_InvalidatingBus):
    """FormEase's command bus: drops the cached figures its commands made stale."""

    read_models = READ_MODELS
