"""FormEase on experiments and analytics, through a real server on each backend: an A/B
test of two versions of a form (conversion = submission), its business events in the
completion funnel, and the PostHog-shaped capture endpoint."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from apps.formease.insights import form_test, session_subject
from headwater.testing._server import serve
from tests.apps.formease.conftest import ENV, ROOT_EMAIL, ROOT_PASSWORD, Operator, _login, _operator
from tests.apps.formease.support import data, error, new_user, open_form, published_form, submit
from tests.conftest import POSTGRES_URL

APPS = [
    "apps.formease.module:module",
    "apps.formease.insights:experiments",
    "apps.formease.insights:analytics",
]


@pytest.fixture(scope="module", params=["sqlite-file", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, Operator, Operator]]:
    workdir = tmp_path_factory.mktemp("insights")
    schema = None
    if request.param == "postgres":
        schema = f"hw_in_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{POSTGRES_URL}?schema={schema}"
    else:
        url = f"sqlite:///{workdir / 'events.db'}"
    try:
        with (
            serve(url, workdir=workdir, apps=APPS, env=ENV) as server,
            httpx.Client(base_url=server.url, timeout=60) as http,
        ):
            root = _login(http, ROOT_EMAIL, ROOT_PASSWORD)
            yield http, _operator(http, root, "Alpha"), _operator(http, root, "Beta")
    finally:
        if schema is not None:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Async projections follow the log: wait for them, never sleep a fixed time."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_an_ab_test_of_two_form_versions_counts_submissions_per_variant(
    site: tuple[httpx.Client, Operator, Operator],
) -> None:
    http, alpha, beta = site
    owner = new_user(http, alpha)
    form_id = published_form(http, alpha, owner)
    key = f"form-{uuid.uuid4().hex[:8]}"
    spec = form_test(key, form_id).model_dump(mode="json")
    data(http.put(f"/experiments/{key}", json=spec, headers=alpha.staff))
    data(http.post(f"/experiments/{key}/start", headers=alpha.staff))
    submitted = {"one-page": 0, "stepper": 0}
    exposed = {"one-page": 0, "stepper": 0}
    for i in range(24):
        opened = open_form(http, alpha, form_id)
        subject = session_subject(opened["token"])
        body = {"subject": subject, "attributes": {"form_id": form_id}}
        assignment = data(
            http.post(f"/experiments/{key}/assignments", json=body, headers=alpha.respondent)
        )
        again = data(
            http.post(f"/experiments/{key}/assignments", json=body, headers=alpha.respondent)
        )
        assert again["variant"] == assignment["variant"]
        assert not again["first_exposure"]
        variant = assignment["variant"]
        assert assignment["payload"] == {"form_id": form_id, "layout": variant}
        exposed[variant] += 1
        if i % 3 != 0:
            views = {"token": opened["token"], "fields": ["name"]}
            data(http.post("/formease/sessions/views", json=views, headers=alpha.respondent))
            data(submit(http, alpha, opened["token"], {"name": "Ada"}), 201)
            submitted[variant] += 1
    results = data(http.get(f"/experiments/{key}/results", headers=alpha.staff))
    assert results["exposures"] == exposed
    variants = results["metrics"]["submitted"]["variants"]
    assert {v: variants[v]["conversions"] for v in variants} == submitted
    interval = results["metrics"]["submitted"]["comparisons"]["stepper"]["interval"]
    assert interval["method"] == "sequential"
    # The other tenant sees no such experiment; a respondent may not manage one.
    error(http.get(f"/experiments/{key}", headers=beta.staff), 404)
    error(http.post(f"/experiments/{key}/start", headers=alpha.respondent), 403)
    # The admin table shows it, with its interval.
    rows = data(http.get("/experiments/admin/results", headers=alpha.staff))
    assert {r["variant"] for r in rows if r["experiment"] == key} == {"one-page", "stepper"}

    # The same sessions, as business events, fill the completion funnel.
    def funnel() -> dict[str, Any]:
        found: dict[str, Any] = data(
            http.get("/analytics/funnels/form-completion?days=2", headers=alpha.staff)
        )
        steps = found["steps"]
        assert [s["count"] for s in steps] == [24, 16, 16]
        return found

    eventually(funnel)


def _event(name: str, who: str, **extra: Any) -> dict[str, Any]:
    return {
        "event": name,
        "distinct_id": who,
        "properties": {"path": "/"},
        "uuid": str(uuid.uuid4()),
        **extra,
    }


def test_capture_answers_202_once_per_uuid_and_stays_in_its_tenant(
    site: tuple[httpx.Client, Operator, Operator],
) -> None:
    http, alpha, beta = site
    marker = f"visit-{uuid.uuid4().hex[:6]}"
    batch = {"batch": [_event(marker, f"v{i}") for i in range(50)], "api_key": "phc_ignored"}
    first = http.post("/analytics/batch", json=batch, headers=alpha.respondent)
    assert first.status_code == 202, first.text
    assert first.json()["data"] == {"received": 50, "written": 50, "duplicates": 0}
    retried = http.post("/analytics/batch", json=batch, headers=alpha.respondent)
    assert retried.status_code == 202
    assert retried.json()["data"]["written"] == 0

    def counted() -> None:
        dash = data(http.get("/analytics/dashboard?days=2", headers=alpha.staff))
        assert marker in dash["actions"]["names"]
        assert sum(day[marker] for day in dash["actions"]["days"]) == 50

    eventually(counted)
    other = data(http.get("/analytics/dashboard?days=2", headers=beta.staff))
    assert marker not in other["actions"]["names"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"batch": []}, "batch"),
        ({"batch": [{"event": "x"}]}, "batch.0.distinct_id"),
        (
            {"batch": [_event("x", "v", properties={f"p{i}": i for i in range(101)})]},
            "batch.0.properties",
        ),
        ({"batch": [_event("x", "v", properties={"blob": "x" * 9000})]}, "batch.0.properties"),
        ({"batch": [_event("x", "v", timestamp="2024-01-01T00:00:00")]}, "batch.0.timestamp"),
        ({"batch": [_event("x", "v", colour="red")]}, "batch.0.colour"),
        ({"batch": [_event("x" * 201, "v")]}, "batch.0.event"),
    ],
)
def test_a_bad_batch_is_refused_whole_with_a_clear_4xx(
    site: tuple[httpx.Client, Operator, Operator], body: dict[str, Any], problem: str
) -> None:
    http, alpha, _ = site
    good = _event("fine", "v")
    if body["batch"]:
        body = {"batch": [good, *body["batch"]]}
        problem = problem.replace("batch.0", "batch.1")
    refused = http.post("/analytics/batch", json=body, headers=alpha.respondent)
    assert refused.status_code == 400, refused.text
    found = refused.json()["error"]
    assert found["code"] == "invalid_capture"
    assert any(p["at"] == problem for p in found["details"]["problems"]), found
    # Nothing half-written: the good event of the refused batch is not stored either.
    again = http.post("/analytics/batch", json={"batch": [good]}, headers=alpha.respondent)
    assert again.status_code == 202
    assert again.json()["data"]["written"] == 1


def test_capture_needs_credentials(site: tuple[httpx.Client, Operator, Operator]) -> None:
    http, _, _ = site
    assert http.post("/analytics/batch", json={"batch": [_event("x", "v")]}).status_code == 401


def test_experiments_are_managed_from_the_api_and_refuse_bad_input(
    site: tuple[httpx.Client, Operator, Operator],
) -> None:
    http, alpha, _ = site
    key = f"flag-{uuid.uuid4().hex[:6]}"
    flag = {"key": key, "kind": "flag", "variants": [{"key": "off"}, {"key": "on"}], "traffic": 0.5}
    data(http.put(f"/experiments/{key}", json=flag, headers=alpha.staff))
    listed = data(http.get("/experiments", headers=alpha.staff))
    assert any(e["key"] == key and e["status"] == "draft" for e in listed)
    data(http.post(f"/experiments/{key}/start", headers=alpha.staff))
    stopped = data(
        http.post(f"/experiments/{key}/stop", json={"reason": "done"}, headers=alpha.staff)
    )
    assert stopped["status"] == "stopped"
    assert stopped["stop_reason"] == "done"
    # Stopping twice, a key that does not match the body, weights of zero, unknown fields.
    assert error(
        http.post(f"/experiments/{key}/stop", json={"reason": "x"}, headers=alpha.staff), 400
    )
    assert error(
        http.put(f"/experiments/{key}", json={**flag, "key": "other"}, headers=alpha.staff), 400
    )
    zero = {**flag, "variants": [{"key": "a", "weight": 0}, {"key": "b", "weight": 0}]}
    assert error(http.put(f"/experiments/{key}", json=zero, headers=alpha.staff), 422)
    assert error(
        http.put(f"/experiments/{key}", json={**flag, "colour": 1}, headers=alpha.staff), 422
    )
    error(http.get("/experiments/nope/results", headers=alpha.staff), 404)


def test_the_admin_dashboard_lists_the_experiment_and_analytics_panels(
    site: tuple[httpx.Client, Operator, Operator],
) -> None:
    http, alpha, _ = site
    overview = data(http.get("/admin/api/overview", headers=alpha.admin))
    ids = {panel["id"] for panel in overview["panels"]}
    assert {
        "experiment-definitions",
        "experiment-results",
        "analytics-actions",
        "analytics-funnels",
        "analytics-retention",
    } <= ids
    for panel in overview["panels"]:
        if panel["id"].startswith(("experiment-", "analytics-")):
            response = http.get(panel["source"], headers=alpha.admin)
            assert response.status_code == 200, (panel["source"], response.text)


def test_capture_is_rate_limited_per_caller_with_retry_after(tmp_path: Path) -> None:
    env = {**ENV, "HEADWATER_RATE_LIMITS": "true"}
    apps = ["tests.apps.formease._limited_node:analytics"]
    with (
        serve(
            f"sqlite:///{tmp_path / 'events.db'}", workdir=tmp_path, apps=apps, env=env
        ) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        # One sign-in only: the login route has its own (tight) limit.
        root = _login(http, ROOT_EMAIL, ROOT_PASSWORD)
        tenant = data(http.post("/admin/tenants", json={"name": "Limited"}, headers=root), 201)
        acting = http.post("/auth/act-as", json={"tenant_id": tenant["id"]}, headers=root)
        caller = {"authorization": f"Bearer {acting.json()['data']['access_token']}"}
        codes = [
            http.post("/analytics/batch", json={"batch": [_event("x", "v")]}, headers=caller)
            for _ in range(4)
        ]
        assert [r.status_code for r in codes] == [202, 202, 202, 429]
        assert int(codes[-1].headers["retry-after"]) >= 1
