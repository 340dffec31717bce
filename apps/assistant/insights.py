"""The assistant on Headwater's experiments and analytics, without touching its commands.

Serve with ``--app apps.assistant.insights:experiments --app apps.assistant.insights:analytics``
next to ``apps.assistant.module:module``. The assistant's own business events reach
analytics through a projection off the log (``SOURCES``), so nothing is recorded twice:
a thread created, a message posted and a reply completed, each with the user as subject
(the events carry ``user_id``; a thread's stream would split one user's funnel per thread).

:func:`system_prompt_test` is the prompt A/B test: each user is assigned stickily (the
experiments' SHA-256 bucketing of the user id), and a reply completed for that user is
the conversion, so the metric is the completed-reply rate per variant.
"""

from __future__ import annotations

from typing import Final

from apps.assistant.domain.replies import REPLY_COMPLETED
from apps.assistant.domain.threads import MESSAGE_POSTED, THREAD_CREATED
from apps.assistant.generator import PROMPT_TEST as PROMPT_TEST
from apps.assistant.providers.local import CONCISE
from headwater.analytics import EventSource, Funnel, Retention, declared
from headwater.experiments import ExperimentSpec, Metric, Variant
from headwater.insights import AnalyticsModule, ExperimentsModule

SOURCES: Final = (
    EventSource(THREAD_CREATED, "thread created", subject_field="user_id"),
    EventSource(MESSAGE_POSTED, "message posted", subject_field="user_id"),
    EventSource(REPLY_COMPLETED, "reply completed", subject_field="user_id"),
)
#: A user who opens a thread, asks, and gets a whole answer within the hour.
THREADS: Final = Funnel(
    id="assistant-threads",
    steps=["thread created", "message posted", "reply completed"],
    window_hours=1,
)
#: Conversion: a reply completed for the user, within a day of exposure.
COMPLETED: Final = Metric(
    name="reply-completed",
    event_type=REPLY_COMPLETED,
    subject_field="user_id",
    window_hours=24,
)


def system_prompt_test(key: str = PROMPT_TEST) -> ExperimentSpec:
    """Two system prompts, half the users each. The reply job puts the variant's
    ``system`` first in the prompt; the local provider answers a concise one from its
    best passage only, a detailed one from its best three."""
    return ExperimentSpec(
        key=key,
        description="Assistant: does a concise or a detailed answer get more replies completed",
        variants=[
            Variant(
                key="concise",
                payload={"system": f"{CONCISE}, from the single best source."},
            ),
            Variant(
                key="detailed",
                payload={"system": "Answer in detail, citing every relevant source."},
            ),
        ],
        metrics=[COMPLETED],
    )


experiments = ExperimentsModule()
analytics = AnalyticsModule(
    declared(funnels=[THREADS], retention=[Retention(id="weekly-askers", period="week")]),
    sources=SOURCES,
    experiments=experiments,
)
