"""``ExperimentsModule``: the experiments API, its ``/admin`` panel and the guardrail loop.

Routes reach the service through the module instance they were built with (a typed
attribute, set at start), never through a registry lookup. Staff manage definitions;
any signed-in principal of the tenant may ask for a subject's variant (what an app's
frontend or backend does when it renders).
"""

# No ``from __future__ import annotations``: the routes' dependency aliases are local to
# the router factory (they close over the module), and FastAPI resolves annotations
# by evaluating them, which works for locals only when they are real objects.

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from headwater.admin._panels import Column, Panel
from headwater.errors import InvalidInput, StoreUnavailable
from headwater.experiments import (
    ExperimentMonitor,
    Experiments,
    ExperimentSpec,
    compute_results,
)
from headwater.http._deps import AUTH_ERRORS, NOT_FOUND, SignedInUser, Staff
from headwater.http._responses import Envelope, ok
from headwater.modules import Module
from headwater.observability._alerts import AlertSink, StreamAlertSink
from headwater.observability._logging import get_logger
from headwater.runtime import Runtime

_log = get_logger("headwater.experiments")


class StopBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
    plan: Annotated[str, Field(max_length=100)] | None = None
    attributes: dict[str, str | int | float | bool] = Field(default_factory=dict, max_length=50)


class ExperimentsModule(Module):
    name: ClassVar[str] = "experiments"
    version: ClassVar[str] = "0.1.0"

    def __init__(
        self, *, alert_sinks: Sequence[AlertSink] | None = None, check_every: float | None = 300.0
    ) -> None:
        """``alert_sinks``: where SRM and guardrail alerts go (default: the
        ``system.alert`` stream, which the admin feed follows); ``check_every``: seconds
        between guardrail checks (None: only on demand)."""
        self.service: Experiments | None = None
        self.monitor: ExperimentMonitor | None = None
        self._sinks = alert_sinks
        self._every = check_every
        self._loop: asyncio.Task[None] | None = None

    def require(self) -> Experiments:
        if self.service is None:
            raise StoreUnavailable("the experiments module is not started")
        return self.service

    async def start(self, runtime: Runtime) -> None:
        self.service = Experiments(runtime.store)
        sinks = [StreamAlertSink(runtime.store)] if self._sinks is None else list(self._sinks)
        self.monitor = ExperimentMonitor(self.service, sinks)
        if self._every is not None:
            self._loop = asyncio.create_task(self._run(self._every))

    async def stop(self, runtime: Runtime) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        self.service = self.monitor = None

    async def _run(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            monitor = self.monitor
            if monitor is None:
                return
            try:
                await monitor.check_all()
            except Exception:
                # A failing check must not end guardrails for the life of the process.
                _log.exception("experiments.check_failed")

    def routers(self) -> Sequence[APIRouter]:
        return (experiments_router(self),)

    def admin_panels(self) -> Sequence[Panel]:
        return (
            Panel(
                "experiment-definitions",
                "Experiments and flags",
                "table",
                "/experiments/admin/definitions",
                columns=(
                    Column("key", "Key"),
                    Column("kind", "Kind"),
                    Column("status", "Status"),
                    Column("variants", "Variants (weights)"),
                    Column("traffic", "Traffic"),
                    Column("targeting", "Targeting"),
                    Column("started_at", "Started"),
                    Column("stop_reason", "Stopped because"),
                ),
                refresh_on=("system.alert",),
            ),
            Panel(
                "experiment-results",
                "Experiments: results with always-valid intervals",
                "table",
                "/experiments/admin/results",
                columns=(
                    Column("experiment", "Experiment"),
                    Column("status", "Status"),
                    Column("metric", "Metric"),
                    Column("variant", "Variant"),
                    Column("subjects", "Subjects"),
                    Column("rate", "Rate"),
                    Column("difference", "Difference vs control"),
                    Column("interval", "95% interval (sequential)"),
                    Column("cuped", "CUPED interval"),
                    Column("srm_p", "SRM p"),
                ),
                refresh_on=("system.alert",),
            ),
        )


def _fmt(interval: dict[str, Any] | None) -> str:
    if interval is None:
        return ""
    low, high = interval["low"], interval["high"]
    if low is None or high is None:
        return "not enough data"
    return f"[{low:+.4f}, {high:+.4f}]" + (" *" if interval["significant"] else "")


async def result_rows(service: Experiments, tenant_id: str) -> list[dict[str, Any]]:
    """One row per experiment, metric and variant: what the admin table shows."""
    rows: list[dict[str, Any]] = []
    for experiment in await service.list(tenant_id):
        if experiment.spec.kind != "experiment":
            continue
        data = (await compute_results(service.store, experiment)).to_dict()
        for metric, result in data["metrics"].items():
            for variant, stats in result["variants"].items():
                comparison = result["comparisons"].get(variant)
                rows.append(
                    {
                        "experiment": experiment.key,
                        "status": experiment.status,
                        "metric": metric,
                        "variant": variant,
                        "subjects": stats["subjects"],
                        "rate": stats["rate"],
                        "difference": None
                        if comparison is None
                        else comparison["interval"]["difference"],
                        "interval": _fmt(None if comparison is None else comparison["interval"]),
                        "cuped": _fmt(None if comparison is None else comparison["cuped"]),
                        "srm_p": data["srm"]["p_value"],
                    }
                )
    return rows


def experiments_router(module: ExperimentsModule) -> APIRouter:
    router = APIRouter(prefix="/experiments", tags=["experiments"], responses=AUTH_ERRORS)

    async def service() -> Experiments:
        return module.require()

    Service = Annotated[Experiments, Depends(service)]

    @router.get("")
    async def list_experiments(actor: Staff, svc: Service) -> Envelope[list[dict[str, Any]]]:
        return ok([e.describe() for e in await svc.list(actor.require_tenant())])

    @router.put("/{key}", responses=NOT_FOUND)
    async def define(
        key: str, spec: ExperimentSpec, actor: Staff, svc: Service
    ) -> Envelope[dict[str, Any]]:
        if spec.key != key:
            raise InvalidInput("the body's key must be the key in the path", key=key)
        found = await svc.define(actor.require_tenant(), spec, actor=actor.subject)
        return ok(found.describe())

    @router.get("/admin/definitions")
    async def admin_definitions(actor: Staff, svc: Service) -> Envelope[list[dict[str, Any]]]:
        rows = []
        for experiment in await svc.list(actor.require_tenant()):
            spec = experiment.spec
            targeting = spec.targeting.model_dump(exclude_defaults=True)
            rows.append(
                {
                    "key": spec.key,
                    "kind": spec.kind,
                    "status": experiment.status,
                    "variants": ", ".join(f"{v.key} ({v.weight:g})" for v in spec.variants),
                    "traffic": spec.traffic,
                    "targeting": ", ".join(f"{k}: {v}" for k, v in targeting.items()) or "all",
                    "started_at": experiment.started_at,
                    "stop_reason": experiment.stop_reason,
                }
            )
        return ok(rows)

    @router.get("/admin/results")
    async def admin_results(actor: Staff, svc: Service) -> Envelope[list[dict[str, Any]]]:
        return ok(await result_rows(svc, actor.require_tenant()))

    @router.get("/{key}", responses=NOT_FOUND)
    async def get(key: str, actor: Staff, svc: Service) -> Envelope[dict[str, Any]]:
        return ok((await svc.get(actor.require_tenant(), key)).describe())

    @router.post("/{key}/start", responses=NOT_FOUND)
    async def start(key: str, actor: Staff, svc: Service) -> Envelope[dict[str, Any]]:
        return ok((await svc.start(actor.require_tenant(), key, actor=actor.subject)).describe())

    @router.post("/{key}/stop", responses=NOT_FOUND)
    async def stop(
        key: str, body: StopBody, actor: Staff, svc: Service
    ) -> Envelope[dict[str, Any]]:
        found = await svc.stop(actor.require_tenant(), key, reason=body.reason, actor=actor.subject)
        return ok(found.describe())

    @router.get("/{key}/results", responses=NOT_FOUND)
    async def results(
        key: str,
        actor: Staff,
        svc: Service,
        method: Literal["sequential", "fixed"] = "sequential",
        alpha: float = Query(default=0.05, gt=0.0001, lt=0.5),
    ) -> Envelope[dict[str, Any]]:
        experiment = await svc.get(actor.require_tenant(), key)
        found = await compute_results(svc.store, experiment, alpha=alpha, method=method)
        return ok(found.to_dict())

    @router.post("/{key}/assignments", responses=NOT_FOUND)
    async def assign(
        key: str, body: AssignBody, actor: SignedInUser, svc: Service
    ) -> Envelope[dict[str, Any] | None]:
        """The subject's variant (``null``: show the default), recording its exposure."""
        found = await svc.get_variant(
            actor.require_tenant(), key, body.subject, plan=body.plan, attributes=body.attributes
        )
        return ok(None if found is None else found.to_dict())

    return router
