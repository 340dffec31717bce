"""Admin read models: user stats and daily form metrics, current and showing freshness."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from tests.apps.formease.conftest import World
from tests.apps.formease.support import (
    data,
    error,
    new_form,
    new_user,
    open_form,
    published_form,
    submit,
)


def test_user_stats_filter_search_and_page_with_cursors(world: World) -> None:
    http, a, b = world.http, world.a, world.b
    tag = uuid.uuid4().hex[:8]
    made = [
        new_user(http, a, "premium" if n % 2 else "free", email=f"stats-{tag}-{n}@customer.example")
        for n in range(5)
    ]
    new_form(http, a, made[1])
    seen: list[str] = []
    params: dict[str, str | int] = {"search": f"stats-{tag}", "limit": 2}
    while True:
        response = http.get("/formease/admin/user-stats", params=params, headers=a.staff)
        body = response.json()
        assert response.status_code == 200, body
        seen += [row["user_id"] for row in body["data"]]
        fresh = body["meta"]["freshness"]
        assert fresh["lag_events"] == 0
        assert fresh["position"] == fresh["head"] > 0
        if not body["pagination"]["hasNext"]:
            break
        params["cursor"] = body["pagination"]["cursor"]
    assert seen == list(reversed(made))  # newest first, each once
    premium = data(
        http.get(
            "/formease/admin/user-stats",
            params={"search": f"stats-{tag}", "plan": "premium"},
            headers=a.staff,
        )
    )
    assert [r["user_id"] for r in premium] == [made[3], made[1]]
    assert premium[1]["forms"] == 1
    active = http.get(
        "/formease/admin/user-stats",
        params={"search": f"stats-{tag}", "active_days": 1},
        headers=a.staff,
    )
    assert len(data(active)) == 5
    # A cursor is bound to its filters; garbage is a 400; B sees none of A's users.
    first = http.get(
        "/formease/admin/user-stats", params={"search": f"stats-{tag}", "limit": 1}, headers=a.staff
    ).json()["pagination"]["cursor"]
    moved = http.get(
        "/formease/admin/user-stats", params={"plan": "free", "cursor": first}, headers=a.staff
    )
    assert error(moved, 400)
    assert error(
        http.get("/formease/admin/user-stats", params={"cursor": "junk"}, headers=a.staff), 400
    )
    assert (
        data(
            http.get(
                "/formease/admin/user-stats", params={"search": f"stats-{tag}"}, headers=b.staff
            )
        )
        == []
    )
    wild = http.get("/formease/admin/user-stats", params={"search": "%"}, headers=a.staff)
    assert data(wild) == []  # LIKE wildcards are matched literally


def test_form_metrics_count_days_and_server_measured_completion(world: World) -> None:
    http, b = world.http, world.b  # tenant B: no other test of this module submits there
    user = new_user(http, b, "premium")
    form = published_form(http, b, user)
    tokens = [open_form(http, b, form)["token"] for _ in range(3)]
    started = time.monotonic()
    for index, token in enumerate(tokens):
        # Completion is what the server saw between open and submit: 0 s, ~1 s, ~2 s.
        time.sleep(max(0.0, started + index * 1.05 - time.monotonic()))
        data(submit(http, b, token, {"name": "Ada"}), 201)
    new_form(http, b, user)
    today = datetime.now(UTC).date()
    response = http.get(
        "/formease/admin/form-metrics",
        params={"start": str(today - timedelta(days=2)), "end": str(today)},
        headers=b.staff,
    )
    body = response.json()
    days = body["data"]["days"]
    assert [d["date"] for d in days] == [str(today - timedelta(days=n)) for n in (2, 1, 0)]
    assert days[0]["submissions"] == 0
    assert days[0]["median_completion_ms"] is None
    assert days[2]["forms_created"] == 2
    assert days[2]["unique_users"] == 1
    assert days[2]["submissions"] == 3
    assert days[2]["median_completion_ms"] == 1500.0
    assert days[2]["p90_completion_ms"] == 2500.0
    assert body["data"]["totals"]["submissions"] == 3
    assert body["meta"]["freshness"]["lag_events"] == 0
    assert error(
        http.get(
            "/formease/admin/form-metrics",
            params={"start": str(today), "end": str(today - timedelta(days=1))},
            headers=b.staff,
        ),
        400,
    )
    assert (
        http.get("/formease/admin/form-metrics", params={"days": 0}, headers=b.staff).status_code
        == 422
    )
    assert http.get("/formease/admin/form-metrics", headers=b.respondent).status_code == 403
