"""The capture node the analytics benchmark serves: ``--app _analytics_node:capture_only``
(its counters kept elsewhere) or ``--app _analytics_node:full`` (the projection too)."""

from __future__ import annotations

from apps.formease.insights import COMPLETION, SOURCES
from headwater.analytics import declared
from headwater.insights import AnalyticsModule

full = AnalyticsModule(declared(funnels=[COMPLETION]), sources=SOURCES)
capture_only = AnalyticsModule(
    declared(funnels=[COMPLETION]), sources=SOURCES, run_projection=False
)
