"""FormEase on Headwater's experiments and analytics, without touching its commands.

Serve with ``--app apps.formease.insights:experiments --app apps.formease.insights:analytics``.
Its business events reach analytics through a projection off the log (``SOURCES``):
a session opened, started (first fields viewed) and submitted, with the session's stream
as the subject. An A/B test of two versions of a form is :func:`form_test`: once a
respondent's session is open, its page asks ``POST /experiments/<key>/assignments`` with
:func:`session_subject` of its token as subject and the form id as attribute, renders the
version the variant's payload names, and a submission of that session is the conversion.
"""

from __future__ import annotations

from typing import Final

from headwater.analytics import EventSource, Funnel, Retention, declared
from headwater.experiments import ExperimentSpec, Metric, Targeting, Variant
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


def session_subject(token: str) -> str:
    """The experiment subject of an open session: its stream id, from the open token
    (``<session id>.<signature>``), the subject of the session's own events."""
    return f"feopen-{token.partition('.')[0]}"


def form_test(
    key: str,
    form_id: str,
    versions: tuple[str, str] = ("one-page", "stepper"),
    *,
    traffic: float = 1.0,
) -> ExperimentSpec:
    """Two versions of one form (by default: all fields on one page, or one step per
    field), half the sessions of that form each; conversion = submission."""
    return ExperimentSpec(
        key=key,
        description="FormEase: which version of the form gets more submissions",
        variants=[
            Variant(key=version, payload={"form_id": form_id, "layout": version})
            for version in versions
        ],
        traffic=traffic,
        targeting=Targeting(attributes={"form_id": [form_id]}),
        metrics=[SUBMITTED],
    )


experiments = ExperimentsModule()
analytics = AnalyticsModule(
    declared(funnels=[COMPLETION], retention=[Retention(id="weekly-forms", period="week")]),
    sources=SOURCES,
    experiments=experiments,
)
