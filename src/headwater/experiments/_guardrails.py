"""The monitor: sample-ratio alarms and guardrails that stop a harmful experiment.

For every running experiment it computes the results and:

- raises a ``experiment_srm`` alert (critical) the first time the exposures' split
  fails the sample-ratio check (p < 0.001), recording ``experiment.srm_detected`` so
  every later check, on any node, stays quiet;
- stops the experiment (``experiment.stopped``, reason ``guardrail ...``) and raises an
  ``experiment_guardrail`` alert when a guardrail metric's always-valid interval shows
  a variant moving it in its bad direction. Sequential intervals are what make it safe
  to run this check every few minutes.

Alerts go through the observability layer's ``AlertSink``s (the ``system.alert`` stream,
the admin feed, webhooks): the same path as every other alert of the node.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from headwater.errors import ConcurrencyError, ExperimentStateError
from headwater.experiments._definitions import Experiment
from headwater.experiments._results import compute_results
from headwater.experiments._service import Experiments
from headwater.experiments._stats import SRM_P_THRESHOLD
from headwater.observability._alerts import Alert, AlertSink
from headwater.observability._logging import get_logger

_log = get_logger("headwater.experiments")


class ExperimentMonitor:
    def __init__(self, experiments: Experiments, sinks: Sequence[AlertSink]) -> None:
        self.experiments = experiments
        self.sinks = list(sinks)

    async def check_all(self) -> list[Alert]:
        alerts: list[Alert] = []
        for experiment in await self.experiments.list():
            if experiment.status == "running" and experiment.spec.kind == "experiment":
                alerts += await self.check(experiment)
        return alerts

    async def check(self, experiment: Experiment) -> list[Alert]:
        results = await compute_results(self.experiments.store, experiment)
        alerts: list[Alert] = []
        key = experiment.key
        if results.srm.mismatch and await self.experiments.mark_srm(
            experiment, results.srm.p_value
        ):
            alerts.append(
                self._alert(
                    "experiment_srm",
                    f"{experiment.tenant_id}/{key}.srm_p_value",
                    results.srm.p_value,
                    SRM_P_THRESHOLD,
                    "critical",
                    f"experiment {key!r}: exposures {results.exposures} do not match the "
                    f"declared weights (sample-ratio mismatch, p={results.srm.p_value:.2e})",
                )
            )
            experiment = await self.experiments.get(experiment.tenant_id, key)
        for guardrail in experiment.spec.guardrails:
            for variant in results.metrics[guardrail.metric].outcomes:
                if variant == experiment.spec.control:
                    continue
                interval = results.interval(guardrail.metric, variant)
                harmed = (
                    interval.high < 0 if guardrail.bad_direction == "decrease" else interval.low > 0
                )
                if not harmed:
                    continue
                reason = f"guardrail {guardrail.metric} regressed in variant {variant}"
                try:
                    await self.experiments.stop(experiment.tenant_id, key, reason=reason)
                except (ConcurrencyError, ExperimentStateError):
                    # Another node's monitor (or an admin) stopped or changed it meanwhile:
                    # that node raised the alert, this one stays quiet.
                    return await self._emit(alerts)
                alerts.append(
                    self._alert(
                        "experiment_guardrail",
                        f"{experiment.tenant_id}/{key}.{guardrail.metric}.{variant}",
                        interval.difference,
                        0.0,
                        "critical",
                        f"experiment {key!r} stopped: {reason} "
                        f"(difference {interval.difference:+.4f}, "
                        f"interval [{interval.low:+.4f}, {interval.high:+.4f}])",
                    )
                )
                return await self._emit(alerts)
        return await self._emit(alerts)

    @staticmethod
    def _alert(
        rule: str, metric: str, value: float, threshold: float, severity: str, summary: str
    ) -> Alert:
        return Alert(
            rule=rule,
            status="firing",
            metric=metric,
            value=float(value),
            threshold=threshold,
            severity=severity,
            summary=summary,
            at=datetime.now(UTC).isoformat(),
        )

    async def _emit(self, alerts: list[Alert]) -> list[Alert]:
        for alert in alerts:
            _log.warning("alert.firing", **alert.to_dict())
            for sink in self.sinks:
                # One broken sink must not hide the alert from the others.
                try:
                    await sink.emit(alert)
                except Exception:
                    _log.exception("alert.sink_failed", sink=type(sink).__name__, rule=alert.rule)
        return alerts
