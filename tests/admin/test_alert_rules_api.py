"""Alert rules managed over HTTP, on every backend: created, changed, muted and deleted
as events, applied by every node sharing the store, kept across a restart; bad input
is a 4xx with a code; only a platform admin changes rules. And the metric history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headwater.admin import AdminModule
from headwater.app import create_app
from headwater.http._security import SecurityModule
from headwater.observability import RULES_STREAM, Alert, ObservabilityModule
from headwater.runtime import Runtime
from tests.security.support import app_settings, create_tenant, root_headers, security_config

SLOW = {
    "name": "slow_checkout",
    "metric": "http_route_p95_seconds",
    "threshold": 0.8,
    "clear": 0.4,
    "for": 0,
    "route": "/checkout",
    "level": "critical",
}


class Recorder:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def emit(self, alert: Alert) -> None:
        self.alerts.append(alert)


class Node:
    def __init__(self, store_url: str, tmp_path: Path) -> None:
        self.recorder = Recorder()
        self.observability = ObservabilityModule(
            log_level=None, alert_interval=None, alert_sinks=[self.recorder], history=True
        )
        plugins = [
            self.observability,
            SecurityModule(security_config()),
            AdminModule(interval=3600),
        ]
        app = create_app(app_settings(store_url, tmp_path), plugins=plugins)
        self.client = TestClient(app, raise_server_exceptions=False)

    def __enter__(self) -> Node:
        self.client.__enter__()
        self.root = root_headers(self.client)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.__exit__(*exc)

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.client.app.state.runtime  # type: ignore[attr-defined]
        return runtime

    def evaluate(self, sample: dict[str, float]) -> list[Alert]:
        portal = self.client.portal
        assert portal is not None

        async def run() -> list[Alert]:
            module = self.observability
            assert module.book is not None
            if await module.book.refresh():
                module.rules_changed()
            return await module.evaluator.evaluate(sample)

        return portal.call(run)

    def rules(self) -> dict[str, dict[str, Any]]:
        listed = data(self.client.get("/admin/api/alerts/rules", headers=self.root))
        return {rule["name"]: rule for rule in listed["rules"]}

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        portal = self.client.portal
        assert portal is not None

        async def read() -> list[tuple[str, dict[str, Any]]]:
            return [
                (e.type, dict(e.data)) async for e in self.runtime.store.read_stream(RULES_STREAM)
            ]

        return portal.call(read)


@pytest.fixture
def node(store_url: str, tmp_path: Path) -> Iterator[Node]:
    with Node(store_url, tmp_path) as running:
        yield running


def data(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


def code(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["error"]["code"])


def test_a_rule_created_by_api_is_an_event_and_fires_for_its_route(node: Node) -> None:
    created = data(node.client.post("/admin/api/alerts/rules", json=SLOW, headers=node.root), 201)
    assert (created["name"], created["builtin"], created["state"]) == ("slow_checkout", False, "ok")
    [(kind, event)] = node.events()
    assert kind == "alert.rule.created"
    assert event["rule"]["threshold"] == 0.8
    assert event["by"]  # who: the root account's subject
    fired = node.evaluate({
        'http_route_p95_seconds{route="/checkout"}': 1.0,
        'http_route_p95_seconds{route="/home"}': 5.0,  # another route: not this rule's
    })  # fmt: skip
    assert [(a.rule, a.route) for a in fired if a.rule == "slow_checkout"] == [
        ("slow_checkout", "/checkout")
    ]
    assert node.rules()["slow_checkout"]["state"] == "firing"
    # The builtin rules are listed beside it.
    assert node.rules()["high_cpu"]["builtin"] is True


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({**SLOW, "clear": 0.9}, 400, "invalid_alert_rule"),
        ({**SLOW, "threshold": "fast"}, 400, "invalid_alert_rule"),
        ({**SLOW, "channels": ["pager"]}, 400, "invalid_alert_rule"),
        ({"name": "x"}, 400, "invalid_alert_rule"),
        ({**SLOW, "name": "high_cpu"}, 409, "alert_rule_exists"),
    ],
)
def test_bad_rule_input_is_a_4xx_with_a_code(
    node: Node, body: dict[str, Any], status: int, error: str
) -> None:
    response = node.client.post("/admin/api/alerts/rules", json=body, headers=node.root)
    assert code(response, status) == error
    assert response.json()["error"]["message"]
    assert node.events() == []


def test_unknown_rules_are_404_and_only_a_platform_admin_changes_rules(node: Node) -> None:
    client, root = node.client, node.root
    assert code(client.post("/admin/api/alerts/rules/nope/mute", headers=root), 404) == (
        "alert_rule_not_found"
    )
    assert code(client.delete("/admin/api/alerts/rules/nope", headers=root), 404) == (
        "alert_rule_not_found"
    )
    tenant = create_tenant(client, root, "Alpha")
    admin = tenant.admin(client)
    # A tenant admin sees the rules (the dashboard shows them) but cannot change them.
    assert data(client.get("/admin/api/alerts/rules", headers=admin))["can_edit"] is False
    assert code(client.post("/admin/api/alerts/rules", json=SLOW, headers=admin), 403)
    assert code(client.post("/admin/api/alerts/rules/high_cpu/mute", headers=admin), 403)
    assert node.events() == []


def test_a_muted_rule_notifies_nobody_and_unmuting_brings_it_back(node: Node) -> None:
    client, root = node.client, node.root
    muted = data(client.post("/admin/api/alerts/rules/dead_jobs/mute", headers=root))
    assert muted["muted"] is True
    fired = node.evaluate({"dead_jobs": 2})
    assert [a.rule for a in fired] == ["dead_jobs"]  # the state moves...
    assert node.recorder.alerts == []  # ...but nobody is told
    data(client.post("/admin/api/alerts/rules/dead_jobs/unmute", headers=root))
    node.evaluate({"dead_jobs": 0})
    assert [(a.rule, a.status) for a in node.recorder.alerts] == [("dead_jobs", "resolved")]
    assert [kind for kind, _ in node.events()] == ["alert.rule.muted", "alert.rule.unmuted"]
    history = data(client.get("/admin/api/alerts/rules/history", headers=root))
    assert [h["type"] for h in history] == ["alert.rule.unmuted", "alert.rule.muted"]


def test_an_edit_keeps_the_other_fields_and_a_new_threshold_gets_a_new_clear(node: Node) -> None:
    client, root = node.client, node.root
    data(client.post("/admin/api/alerts/rules", json=SLOW, headers=root), 201)
    edited = data(
        client.patch("/admin/api/alerts/rules/slow_checkout", json={"threshold": 2}, headers=root)
    )
    assert (edited["threshold"], edited["clear"], edited["route"]) == (2.0, 1.8, "/checkout")
    renamed = client.patch("/admin/api/alerts/rules/slow_checkout", json={"name": "other"},
                           headers=root)  # fmt: skip
    assert code(renamed, 400) == "invalid_alert_rule"


def test_rules_reach_every_node_and_survive_a_restart(store_url: str, tmp_path: Path) -> None:
    if store_url == "sqlite:///:memory:":
        pytest.skip("an in-memory store belongs to one node and ends with it")
    with ExitStack() as nodes:
        a = nodes.enter_context(Node(store_url, tmp_path))
        b = nodes.enter_context(Node(store_url, tmp_path))
        data(a.client.post("/admin/api/alerts/rules", json=SLOW, headers=a.root), 201)
        data(a.client.post("/admin/api/alerts/rules/slow_checkout/mute", headers=a.root))
        data(a.client.delete("/admin/api/alerts/rules/high_cpu", headers=a.root))
        # Node B folds A's changes in at its next evaluation.
        b.evaluate({})
        names = {rule.name for rule in b.observability.evaluator.rules}
        assert "slow_checkout" in names
        assert "high_cpu" not in names
    with Node(store_url, tmp_path) as restarted:
        rules = restarted.rules()
        assert rules["slow_checkout"]["muted"] is True
        assert rules["slow_checkout"]["threshold"] == 0.8
        assert "high_cpu" not in rules
        assert "dead_jobs" in rules


def test_the_rules_panel_and_the_metric_history(node: Node) -> None:
    client, root = node.client, node.root
    panels = data(client.get("/admin/api/overview", headers=root))["panels"]
    panel = next(p for p in panels if p["id"] == "alert-rules")
    assert [a["label"] for a in panel["actions"]] == ["Mute", "Unmute", "Delete"]
    rows = data(client.get(panel["source"], headers=root))
    cpu = next(row for row in rows if row["name"] == "high_cpu")
    assert cpu["condition"] == "> 80 (3 samples; clears at 65)"
    assert cpu["muted"] == "false"
    portal = client.portal
    assert portal is not None
    portal.call(node.observability.evaluate_now)
    history = data(
        client.get(
            "/admin/api/metrics/history",
            params={"metric": ["system_memory_percent", "db_latency_seconds"]},
            headers=root,
        )
    )
    assert history["enabled"] is True
    assert history["resolution"] == 10
    assert set(history["series"]) == {"system_memory_percent", "db_latency_seconds"}
    assert len(history["series"]["db_latency_seconds"]) == 1
