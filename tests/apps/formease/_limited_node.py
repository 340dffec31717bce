"""A capture node with a tight limit, for the rate-limit test (served by path)."""

from __future__ import annotations

from headwater.insights import AnalyticsModule

analytics = AnalyticsModule(capture_limit_per_minute=3, run_projection=False)
