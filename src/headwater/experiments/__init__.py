"""Experiments and feature flags: event-sourced definitions, one specified assignment
hash, sticky exposures, and results from the log with honest statistics (sequential
intervals by default, a sample-ratio check, CUPED, guardrails).

::

    experiments = Experiments(store)
    await experiments.define("acme", ExperimentSpec(key="checkout", variants=[
        Variant(key="control"), Variant(key="one-page")],
        metrics=[Metric(name="paid", event_type="order.paid")]))
    await experiments.start("acme", "checkout")
    assignment = await experiments.get_variant("acme", "checkout", "user-42")
    results = await compute_results(store, await experiments.get("acme", "checkout"))
"""

from headwater.errors import ExperimentNotFound, ExperimentStateError
from headwater.experiments._definitions import (
    Experiment,
    ExperimentSpec,
    Guardrail,
    Metric,
    Targeting,
    Variant,
)
from headwater.experiments._guardrails import ExperimentMonitor
from headwater.experiments._hashing import in_traffic, pick_variant, unit
from headwater.experiments._results import Results, compute_results
from headwater.experiments._service import Assignment, Experiments
from headwater.experiments._stats import (
    Interval,
    SampleRatio,
    chi_square_sf,
    cuped_adjust,
    difference_interval,
    half_width,
    sample_ratio_check,
)

__all__ = [
    "Assignment",
    "Experiment",
    "ExperimentMonitor",
    "ExperimentNotFound",
    "ExperimentSpec",
    "ExperimentStateError",
    "Experiments",
    "Guardrail",
    "Interval",
    "Metric",
    "Results",
    "SampleRatio",
    "Targeting",
    "Variant",
    "chi_square_sf",
    "compute_results",
    "cuped_adjust",
    "difference_interval",
    "half_width",
    "in_traffic",
    "pick_variant",
    "sample_ratio_check",
    "unit",
]
