"""The alert rules and the metric history, over HTTP: ``/admin/api/alerts/rules...``
and ``/admin/api/metrics/history``.

Reading needs the dashboard's viewer role. Changing a rule needs a platform admin:
rules are the deployment's, not a tenant's (one tenant's admin muting the
database-pool alert would silence it for everyone). Every change is an event in
``hw.alert-rules`` (see ``observability.AlertRuleBook``), so ``GET .../history``
is the audit trail, and the change reaches every node at its next sample; this
node applies it at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Query

from headwater.admin._panels import Column, Panel, RowAction
from headwater.errors import StoreUnavailable
from headwater.http._deps import AUTH_ERRORS, BAD_REQUEST, CONFLICT, NOT_FOUND, require_role
from headwater.http._responses import Envelope, ok
from headwater.identity._principal import Principal, Role
from headwater.observability import AlertRule, ObservabilityModule, rule_to_data

if TYPE_CHECKING:
    from headwater.admin._module import AdminModule

#: The rule's data form; ``observability.rule_from_data`` checks it (400 with a code).
RuleBody = Annotated[dict[str, Any], Body()]
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {**AUTH_ERRORS, **BAD_REQUEST, **NOT_FOUND}


#: The row buttons' URL: the page fills ``{name}`` from each row.
_RULE = "/admin/api/alerts/rules/{name}"
#: The dashboard's alert-rules panel: every rule, its state, and mute/unmute/delete.
RULES_PANEL = Panel(
    id="alert-rules",
    title="Alert rules",
    kind="table",
    source="/admin/api/alerts/rules/rows",
    columns=(
        Column("name", "Rule"),
        Column("metric", "Metric"),
        Column("condition", "Fires when"),
        Column("level", "Level"),
        Column("state", "State"),
        Column("value", "Last value"),
        Column("muted", "Muted"),
    ),
    actions=(
        RowAction("Mute", _RULE + "/mute", only_if=("muted", "false")),
        RowAction("Unmute", _RULE + "/unmute", only_if=("muted", "true")),
        RowAction("Delete", _RULE, method="DELETE"),
    ),
    refresh_on=("system.alert",),
    role=Role.PLATFORM_ADMIN,
    app="headwater",
)


def _observability(admin: AdminModule) -> ObservabilityModule:
    found = None if admin.runtime is None else admin.runtime.find(ObservabilityModule)
    if found is None or found.book is None:
        raise StoreUnavailable("the observability module is not running")
    return found


def _view(module: ObservabilityModule, rule: AlertRule) -> dict[str, Any]:
    firing = module.evaluator.firing()
    routes = [f[len(rule.name) + 1 : -1] for f in firing if f.startswith(rule.name + "[")]
    book = module.book
    return {
        **rule_to_data(rule),
        "builtin": book is not None and book.is_base(rule.name),
        "state": "firing"
        if rule.name in firing or routes
        else str(module.evaluator.state(rule.name).value),
        "firing_routes": routes,
        "value": module.last_sample.get(rule.metric),
    }


def add_alert_routes(router: APIRouter, admin: AdminModule) -> None:
    viewer = require_role(admin.viewer_role)
    platform = require_role(Role.PLATFORM_ADMIN)

    @router.get("/api/alerts/rules", responses=AUTH_ERRORS, summary="Alert rules and channels")
    async def rules(principal: Principal = viewer) -> Envelope[dict[str, Any]]:
        module = _observability(admin)
        assert module.book is not None
        await module.book.refresh()
        module.rules_changed()
        return ok(
            {
                "rules": [_view(module, rule) for rule in module.book.rules()],
                "channels": sorted(module.evaluator.channels),
                "can_edit": principal.has_role(Role.PLATFORM_ADMIN),
            }
        )

    @router.get(
        "/api/alerts/rules/rows", responses=AUTH_ERRORS, summary="Alert rules, one row each"
    )
    async def rule_rows(principal: Principal = viewer) -> Envelope[list[dict[str, Any]]]:
        module = _observability(admin)
        assert module.book is not None
        await module.book.refresh()
        module.rules_changed()
        return ok([_row(_view(module, rule)) for rule in module.book.rules()])

    @router.get(
        "/api/alerts/rules/history", responses=AUTH_ERRORS, summary="Changes to alert rules"
    )
    async def rules_history(
        principal: Principal = viewer, limit: int = Query(default=100, ge=1, le=1000)
    ) -> Envelope[list[dict[str, Any]]]:
        module = _observability(admin)
        assert module.book is not None
        return ok(await module.book.history(limit))

    @router.post(
        "/api/alerts/rules",
        status_code=201,
        responses={**_WRITE_ERRORS, **CONFLICT},
        summary="Create an alert rule",
    )
    async def create_rule(
        body: RuleBody, principal: Principal = platform
    ) -> Envelope[dict[str, Any]]:
        module = _observability(admin)
        assert module.book is not None
        rule = await module.book.create(body, principal.subject)
        module.rules_changed()
        return ok(_view(module, rule))

    @router.patch(
        "/api/alerts/rules/{rule_name}", responses=_WRITE_ERRORS, summary="Change an alert rule"
    )
    async def update_rule(
        rule_name: str, body: RuleBody, principal: Principal = platform
    ) -> Envelope[dict[str, Any]]:
        module = _observability(admin)
        assert module.book is not None
        rule = await module.book.update(rule_name, body, principal.subject)
        module.rules_changed()
        return ok(_view(module, rule))

    @router.post(
        "/api/alerts/rules/{rule_name}/mute", responses=_WRITE_ERRORS, summary="Mute an alert rule"
    )
    async def mute_rule(
        rule_name: str, principal: Principal = platform
    ) -> Envelope[dict[str, Any]]:
        return ok(await _set_muted(admin, rule_name, True, principal.subject))

    @router.post(
        "/api/alerts/rules/{rule_name}/unmute",
        responses=_WRITE_ERRORS,
        summary="Unmute an alert rule",
    )
    async def unmute_rule(
        rule_name: str, principal: Principal = platform
    ) -> Envelope[dict[str, Any]]:
        return ok(await _set_muted(admin, rule_name, False, principal.subject))

    @router.delete(
        "/api/alerts/rules/{rule_name}", responses=_WRITE_ERRORS, summary="Delete an alert rule"
    )
    async def delete_rule(
        rule_name: str, principal: Principal = platform
    ) -> Envelope[dict[str, Any]]:
        module = _observability(admin)
        assert module.book is not None
        await module.book.delete(rule_name, principal.subject)
        module.rules_changed()
        return ok({"name": rule_name, "deleted": True})

    @router.get(
        "/api/metrics/history",
        responses={**AUTH_ERRORS, **BAD_REQUEST},
        summary="The node's figures over the last hours (downsampled)",
    )
    async def metric_history(
        principal: Principal = viewer,
        seconds: int = Query(default=3600, ge=60, le=86400),
        metric: Annotated[list[str] | None, Query(max_length=20)] = None,
    ) -> Envelope[dict[str, Any]]:
        module = _observability(admin)
        if module.history is None:
            return ok({"enabled": False, "series": {}})
        found = await module.history.read(seconds=seconds, metrics=metric)
        return ok({"enabled": True, **found})


def _row(view: dict[str, Any]) -> dict[str, Any]:
    sign = ">" if view["comparison"] == "above" else "<"
    held = f"for {view['for']:g} s" if view["for"] is not None else f"{view['for_samples']} samples"
    where = f" on {view['route']}" if view["route"] else ""
    routes = ", ".join(view["firing_routes"])
    return {
        **view,
        "condition": f"{sign} {view['threshold']:g} ({held}; clears at {view['clear']:g}){where}",
        "state": f"{view['state']} ({routes})" if routes else view["state"],
        # The page compares the text: "true" / "false".
        "muted": "true" if view["muted"] else "false",
        "channels": ", ".join(view["channels"]) or "all",
    }


async def _set_muted(admin: AdminModule, name: str, muted: bool, by: str) -> dict[str, Any]:
    module = _observability(admin)
    assert module.book is not None
    rule = await module.book.set_muted(name, muted, by)
    module.rules_changed()
    return _view(module, rule)
