"""Feature flags and experiments, defined by events in one stream per key and tenant.

A definition is the fold of its stream: ``experiment.defined`` (the whole declaration,
again for every edit), ``experiment.started``, ``experiment.stopped`` (by hand, or by a
guardrail) and ``experiment.srm_detected`` (so the alarm is raised once). Nothing else
holds the state, so a definition at any position of the log is a replay away.

A *flag* is an experiment with the same machinery and no metrics: variants (``on`` /
``off`` or any values), weights, traffic and targeting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from headwater.eventstore._records import RecordedEvent

DEFINED: Final = "experiment.defined"
STARTED: Final = "experiment.started"
STOPPED: Final = "experiment.stopped"
SRM_DETECTED: Final = "experiment.srm_detected"
EXPOSURE: Final = "experiment.exposure"
DEFINITION_TYPES: Final = (DEFINED, STARTED, STOPPED, SRM_DETECTED)

KEY_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_KEY = re.compile(KEY_PATTERN)

Key = Annotated[str, Field(pattern=KEY_PATTERN)]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variant(Strict):
    key: Key
    weight: Annotated[float, Field(ge=0, le=1_000_000)] = 1.0
    #: What the app does differently (a form version, a question order...).
    payload: dict[str, Any] = Field(default_factory=dict, max_length=50)


class Targeting(Strict):
    """Who may enter: every listed condition must hold (an empty one holds for all)."""

    tenants: list[Name] = Field(default_factory=list, max_length=100)
    plans: list[Name] = Field(default_factory=list, max_length=20)
    #: Attribute name -> accepted values, e.g. ``{"country": ["fr", "be"]}``.
    attributes: dict[Name, list[str | int | float | bool]] = Field(
        default_factory=dict, max_length=20
    )

    def admits(self, tenant_id: str, plan: str | None, attributes: Mapping[str, object]) -> bool:
        if self.tenants and tenant_id not in self.tenants:
            return False
        if self.plans and plan not in self.plans:
            return False
        return all(attributes.get(name) in accepted for name, accepted in self.attributes.items())


class Metric(Strict):
    """A conversion: an event of ``event_type`` by the same subject within ``window_hours``
    after its first exposure. The subject is read from ``data[subject_field]`` (or the
    stream id when ``subject_field`` is ``"$stream"``); ``where`` keeps events whose
    ``data[field]`` equals the value, ``at_least`` those whose number is ``>=`` it."""

    name: Key
    event_type: Annotated[str, Field(min_length=1, max_length=255)]
    subject_field: Annotated[str, Field(min_length=1, max_length=100)] = "distinct_id"
    window_hours: Annotated[float, Field(gt=0, le=24 * 365)] = 24 * 7
    where: dict[Name, str | int | bool] = Field(default_factory=dict, max_length=10)
    at_least: dict[Name, float] = Field(default_factory=dict, max_length=10)

    def matches(self, event: RecordedEvent) -> bool:
        data = event.data
        for name, value in self.where.items():
            if data.get(name) != value:
                return False
        for name, bound in self.at_least.items():
            got = data.get(name)
            if not isinstance(got, (int, float)) or isinstance(got, bool) or got < bound:
                return False
        return True

    def subject(self, event: RecordedEvent) -> str | None:
        if self.subject_field == "$stream":
            return event.stream_id
        value = event.data.get(self.subject_field)
        return None if value is None else str(value)


class Guardrail(Strict):
    """A metric that must not get worse: when its always-valid interval shows a variant
    harming it (in ``bad_direction``), the experiment stops and an alert fires."""

    metric: Key
    bad_direction: Literal["decrease", "increase"] = "decrease"


class ExperimentSpec(Strict):
    """What an admin declares (the API body, the ``experiment.defined`` payload)."""

    key: Key
    kind: Literal["experiment", "flag"] = "experiment"
    description: Annotated[str, Field(max_length=2000)] = ""
    variants: list[Variant] = Field(min_length=2, max_length=20)
    traffic: Annotated[float, Field(ge=0, le=1)] = 1.0
    targeting: Targeting = Field(default_factory=Targeting)
    metrics: list[Metric] = Field(default_factory=list, max_length=20)
    #: The metric the result headline is about (default: the first).
    primary_metric: Key | None = None
    guardrails: list[Guardrail] = Field(default_factory=list, max_length=10)
    #: Hours before each subject's exposure whose metric events are CUPED's covariate.
    pre_period_hours: Annotated[float, Field(ge=0, le=24 * 365)] = 24 * 14
    #: Changing the salt re-randomises everyone; by default it is the key.
    salt: Name | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentSpec:
        keys = [v.key for v in self.variants]
        if len(set(keys)) != len(keys):
            raise ValueError("variant keys must be unique")
        if sum(v.weight for v in self.variants) <= 0:
            raise ValueError("variant weights must add up to more than zero")
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError("metric names must be unique")
        if self.primary_metric is not None and self.primary_metric not in names:
            raise ValueError("primary_metric must name one of the metrics")
        for guardrail in self.guardrails:
            if guardrail.metric not in names:
                raise ValueError(f"guardrail {guardrail.metric!r} must name one of the metrics")
        return self

    @property
    def hash_salt(self) -> str:
        return self.salt or self.key

    @property
    def control(self) -> str:
        """The first variant is the baseline every other is compared with."""
        return self.variants[0].key

    def metric(self, name: str) -> Metric:
        return next(m for m in self.metrics if m.name == name)


Status = Literal["draft", "running", "stopped"]


@dataclass
class Experiment:
    """A definition as of some position of the log."""

    tenant_id: str
    spec: ExperimentSpec
    status: Status = "draft"
    started_at: str | None = None
    stopped_at: str | None = None
    stop_reason: str | None = None
    srm_detected: bool = False
    version: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.spec.key

    def describe(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.spec.kind,
            "status": self.status,
            "started_at": self.started_at,
            "stopped_at": self.stopped_at,
            "stop_reason": self.stop_reason,
            "srm_detected": self.srm_detected,
            "version": self.version,
            "spec": self.spec.model_dump(mode="json"),
        }


def fold(tenant_id: str, events: Iterable[RecordedEvent]) -> Experiment | None:
    """The experiment its stream's events describe (``None`` for an empty stream)."""
    experiment: Experiment | None = None
    for event in events:
        if event.type == DEFINED:
            spec = ExperimentSpec.model_validate(event.data["spec"])
            if experiment is None:
                experiment = Experiment(tenant_id, spec)
            else:
                experiment.spec = spec
        elif experiment is None:
            continue
        elif event.type == STARTED:
            experiment.status = "running"
            experiment.started_at = event.data["at"]
            experiment.stopped_at = experiment.stop_reason = None
        elif event.type == STOPPED:
            experiment.status = "stopped"
            experiment.stopped_at = event.data["at"]
            experiment.stop_reason = event.data.get("reason")
        elif event.type == SRM_DETECTED:
            experiment.srm_detected = True
        else:
            continue
        experiment.version = event.version
        experiment.history.append({"type": event.type, "at": event.recorded_at.isoformat()})
    return experiment


def valid_key(key: str) -> bool:
    return bool(_KEY.match(key))
