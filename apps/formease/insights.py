"""FormEase on Headwater's experiments and analytics, without touching its commands.

Serve with ``--app apps.formease.insights:experiments --app apps.formease.insights:analytics``.
Its business events reach analytics through a projection off the log (``SOURCES``):
a session opened, started (first fields viewed) and submitted, with the session's stream
as the subject. An A/B test of two versions of a form is :func:`form_test`: the
respondent's page asks ``POST /experiments/<key>/assignments`` with the session's stream
id as subject, shows the form of the variant's payload, and a submission of that session
is the conversion.
"""

from __future__ import annotations

from typing import Final

from headwater.analytics import EventSource, Funnel, Retention, declared
from headwater.experiments import ExperimentSpec, Metric, Variant
from headwater.insights import AnalyticsModule, ExperimentsModule

SOURCES: Final = (
    EventSource("formease.SessionOpened", "form opened"),
    EventSource("formease.FieldsViewed", "form started"),
    EventSource("formease.SessionSubmitted", "form submitted"),
)
COMPLETION: Final = Funnel(
    id="form-completion", steps=["form opened", "form started", "form submitted"], window_hours=24
)
#: Submission as the conversion: the session's own submitted event, within a day.
SUBMITTED: Final = Metric(
    name="submitted",
    event_type="formease.SessionSubmitted",
    subject_field="$stream",
    window_hours=24,
)


def form_test(key: str, form_a: str, form_b: str, *, traffic: float = 1.0) -> ExperimentSpec:
    """Two versions of a form, half the sessions each; conversion = submission."""
    return ExperimentSpec(
        key=key,
        description="FormEase: which version of the form gets more submissions",
        variants=[
            Variant(key="a", payload={"form_id": form_a}),
            Variant(key="b", payload={"form_id": form_b}),
        ],
        traffic=traffic,
        metrics=[SUBMITTED],
    )


experiments = ExperimentsModule()
analytics = AnalyticsModule(
    declared(funnels=[COMPLETION], retention=[Retention(id="weekly-forms", period="week")]),
    sources=SOURCES,
    experiments=experiments,
)
