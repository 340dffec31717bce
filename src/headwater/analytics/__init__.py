"""Product analytics on the log: a PostHog-shaped capture API, and funnels, retention
and cohorts declared as data and kept current by one incremental projection, so a
dashboard read is a read of counters.

::

    declarations = declared(funnels=[Funnel(id="signup", steps=["visit", "signup", "paid"])],
                            retention=[Retention(id="weekly", period="week")])
    projection = analytics_projection(declarations, sources=[EventSource("app.Paid", "paid")])
    await Capture(store).capture("acme", parse_batch(body).batch)
    data = await Analytics(store, declarations).get_dashboard_data("acme", start, end)
"""

from headwater.analytics._actions import CAPTURED, Action, EventSource
from headwater.analytics._capture import (
    Capture,
    CaptureBatch,
    CaptureEvent,
    CaptureResult,
    parse_batch,
)
from headwater.analytics._dashboard import Analytics
from headwater.analytics._definitions import Cohort, Declarations, Funnel, Retention, declared
from headwater.analytics._projection import analytics_projection
from headwater.errors import InvalidCapture, UnknownDeclaration

__all__ = [
    "CAPTURED",
    "Action",
    "Analytics",
    "Capture",
    "CaptureBatch",
    "CaptureEvent",
    "CaptureResult",
    "Cohort",
    "Declarations",
    "EventSource",
    "Funnel",
    "InvalidCapture",
    "Retention",
    "UnknownDeclaration",
    "analytics_projection",
    "declared",
    "parse_batch",
]
