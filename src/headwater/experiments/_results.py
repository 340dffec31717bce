"""Results, computed from the log alone: exposures, conversions, intervals, SRM, CUPED.

``compute_results`` reads the experiment's exposures and its metrics' events up to one
position of the log and nothing else, so the same position always gives the same
numbers (``as_of_position`` says which): replaying the log recomputes them exactly.

Per metric, each exposed subject has an outcome ``y`` (1 when an event of the metric
came within the window after its first exposure) and a covariate ``x`` (how many such
events it had in the pre-period before exposure: CUPED's input, taken from the log).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from headwater.eventstore import EventStore
from headwater.experiments._definitions import EXPOSURE, Experiment, Metric
from headwater.experiments._stats import (
    DEFAULT_ALPHA,
    Interval,
    Method,
    SampleRatio,
    cuped_adjust,
    difference_interval,
    sample_ratio_check,
)


@dataclass(frozen=True, slots=True)
class _Exposure:
    variant: str
    at: datetime


def _interval_dict(interval: Interval) -> dict[str, Any]:
    def finite(value: float) -> float | None:
        return None if not np.isfinite(value) else round(value, 12)

    return {
        "difference": round(interval.difference, 12),
        "low": finite(interval.low),
        "high": finite(interval.high),
        "relative": None if interval.relative is None else round(interval.relative, 12),
        "significant": interval.significant,
        "method": interval.method,
    }


@dataclass(frozen=True)
class MetricOutcome:
    """Per-variant outcome and covariate arrays for one metric."""

    name: str
    outcomes: dict[str, np.ndarray]
    covariates: dict[str, np.ndarray]

    def intervals(
        self, control: str, *, alpha: float, method: Method, cuped: bool
    ) -> dict[str, Interval]:
        ys = self.outcomes
        if cuped:
            order = list(ys)
            adjusted, _ = cuped_adjust(
                np.concatenate([ys[v] for v in order]),
                np.concatenate([self.covariates[v] for v in order]),
            )
            split = np.cumsum([len(ys[v]) for v in order])[:-1]
            ys = dict(zip(order, np.split(adjusted, split), strict=True))
        base = ys[control]
        out: dict[str, Interval] = {}
        for variant, y in ys.items():
            if variant == control:
                continue
            out[variant] = difference_interval(
                _mean(base),
                _var(base),
                len(base),
                _mean(y),
                _var(y),
                len(y),
                alpha=alpha,
                method=method,
            )
        return out


def _mean(y: np.ndarray) -> float:
    return float(np.mean(y)) if len(y) else 0.0


def _var(y: np.ndarray) -> float:
    return float(np.var(y, ddof=1)) if len(y) > 1 else 0.0


@dataclass(frozen=True)
class Results:
    experiment: Experiment
    as_of_position: int
    exposures: dict[str, int]
    srm: SampleRatio
    metrics: dict[str, MetricOutcome]
    alpha: float
    method: Method

    def interval(self, metric: str, variant: str, *, cuped: bool = False) -> Interval:
        outcome = self.metrics[metric]
        return outcome.intervals(
            self.experiment.spec.control, alpha=self.alpha, method=self.method, cuped=cuped
        )[variant]

    def to_dict(self) -> dict[str, Any]:
        spec = self.experiment.spec
        metrics: dict[str, Any] = {}
        for name, outcome in self.metrics.items():
            plain = outcome.intervals(
                spec.control, alpha=self.alpha, method=self.method, cuped=False
            )
            adjusted = outcome.intervals(
                spec.control, alpha=self.alpha, method=self.method, cuped=True
            )
            fixed = outcome.intervals(spec.control, alpha=self.alpha, method="fixed", cuped=False)
            metrics[name] = {
                "variants": {
                    v: {
                        "subjects": len(y),
                        "conversions": int(np.sum(y)),
                        "rate": round(_mean(y), 12),
                    }
                    for v, y in outcome.outcomes.items()
                },
                "comparisons": {
                    v: {
                        "interval": _interval_dict(plain[v]),
                        "cuped": _interval_dict(adjusted[v]),
                        "fixed_horizon": _interval_dict(fixed[v]),
                    }
                    for v in plain
                },
            }
        return {
            "experiment": spec.key,
            "status": self.experiment.status,
            "as_of_position": self.as_of_position,
            "control": spec.control,
            "primary_metric": spec.primary_metric
            or (spec.metrics[0].name if spec.metrics else None),
            "alpha": self.alpha,
            "method": self.method,
            "exposures": self.exposures,
            "srm": {
                "statistic": round(self.srm.statistic, 9),
                "p_value": self.srm.p_value,
                "mismatch": self.srm.mismatch,
                "expected": [round(e, 6) for e in self.srm.expected],
            },
            "metrics": metrics,
        }


async def compute_results(
    store: EventStore,
    experiment: Experiment,
    *,
    as_of_position: int | None = None,
    alpha: float = DEFAULT_ALPHA,
    method: Method = "sequential",
) -> Results:
    """The experiment's results from the log up to ``as_of_position`` (default: head)."""
    head = await store.head_position() if as_of_position is None else as_of_position
    spec = experiment.spec
    tenant = experiment.tenant_id
    exposures: dict[str, _Exposure] = {}
    async for event in store.read_all(types=[EXPOSURE], tenant_id=tenant):
        if event.position > head:
            break
        if event.data.get("experiment") == spec.key:
            subject = event.data["subject"]
            # The first exposure counts; the stream allows only one, but be explicit.
            exposures.setdefault(subject, _Exposure(event.data["variant"], event.recorded_at))
    variant_keys = [v.key for v in spec.variants]
    counts = {v: 0 for v in variant_keys}
    for exposure in exposures.values():
        if exposure.variant in counts:
            counts[exposure.variant] += 1
    srm = sample_ratio_check([counts[v] for v in variant_keys], [v.weight for v in spec.variants])
    outcomes = {
        metric.name: await _metric(
            store,
            tenant,
            metric,
            exposures,
            variant_keys,
            head,
            timedelta(hours=spec.pre_period_hours),
        )
        for metric in spec.metrics
    }
    return Results(experiment, head, counts, srm, outcomes, alpha, method)


async def _metric(
    store: EventStore,
    tenant: str,
    metric: Metric,
    exposures: dict[str, _Exposure],
    variants: list[str],
    head: int,
    pre_period: timedelta,
) -> MetricOutcome:
    window = timedelta(hours=metric.window_hours)
    converted: set[str] = set()
    before: dict[str, int] = defaultdict(int)
    async for event in store.read_all(types=[metric.event_type], tenant_id=tenant):
        if event.position > head:
            break
        subject = metric.subject(event)
        exposure = None if subject is None else exposures.get(subject)
        if exposure is None or not metric.matches(event):
            continue
        assert subject is not None
        at = event.recorded_at
        if exposure.at <= at < exposure.at + window:
            converted.add(subject)
        elif exposure.at - pre_period <= at < exposure.at:
            before[subject] += 1
    # Subjects in a stable order (sorted), so arrays, hence results, replay identically.
    per_variant: dict[str, list[str]] = {v: [] for v in variants}
    for subject in sorted(exposures):
        variant = exposures[subject].variant
        if variant in per_variant:
            per_variant[variant].append(subject)
    return MetricOutcome(
        metric.name,
        {
            v: np.array([1.0 if s in converted else 0.0 for s in subs])
            for v, subs in per_variant.items()
        },
        {v: np.array([float(before[s]) for s in subs]) for v, subs in per_variant.items()},
    )
