from __future__ import annotations

import pytest

from headwater.errors import InvalidInput
from headwater.ratelimit import DEFAULT_TIERS, SEED_ENDPOINTS, EndpointLimit, Outage
from headwater.ratelimit._routes import RouteTable, compile_route


def test_seed_tiers() -> None:
    assert {k: (v.per_minute, v.concurrent) for k, v in DEFAULT_TIERS.items()} == {
        "anonymous": (60, 5),
        "user": (200, 10),
        "premium": (1000, 50),
    }


def test_seed_endpoint_table_with_bursts_as_windows() -> None:
    windows = {e.route: [(w.amount, w.get_expiry()) for w in e.windows()] for e in SEED_ENDPOINTS}
    assert windows == {
        "POST /api/auth/login": [(3, 18), (10, 60)],
        "GET /api/games/*/leaderboard": [(10, 20), (30, 60)],
        "POST /api/games/*/play": [(2, 24), (5, 60)],
        "GET /api/events": [(20, 12), (100, 60)],
    }
    login = next(e for e in SEED_ENDPOINTS if e.route == "POST /api/auth/login")
    assert login.on_outage is Outage.CLOSED


def test_a_limit_without_burst_has_one_window() -> None:
    assert [(w.amount, w.get_expiry()) for w in EndpointLimit("GET /x", 5).windows()] == [(5, 60)]


def test_route_templates_match_any_id_but_not_other_paths() -> None:
    table = RouteTable(
        [EndpointLimit("POST /api/games/*/play", 5), EndpointLimit("GET /files/{p:path}", 5)]
    )
    assert table.match("POST", "/api/games/42/play")
    assert table.match("POST", "/api/games/abc/play/")
    assert not table.match("GET", "/api/games/42/play")
    assert not table.match("POST", "/api/games/42/play/again")
    assert not table.match("POST", "/api/games//play")
    assert table.match("GET", "/files/a/b/c.txt")


def test_a_route_without_a_method_is_refused() -> None:
    with pytest.raises(InvalidInput):
        compile_route("/api/events")
