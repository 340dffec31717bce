"""The middleware with in-memory counters (the embedded default)."""

from __future__ import annotations

import asyncio

import pytest

from headwater.ratelimit import (
    EndpointLimit,
    RateLimitConfig,
    RateLimiter,
    TierLimit,
)
from tests.ratelimit.support import as_, client, gate, make_app, principal

pytestmark = pytest.mark.anyio


async def test_anonymous_callers_get_60_a_minute_then_429_with_headers() -> None:
    app = make_app(RateLimiter(RateLimitConfig()))
    async with client(app) as http:
        first = await http.get("/hello")
        assert first.status_code == 200
        assert first.headers["ratelimit-limit"] == "60"
        assert first.headers["ratelimit-remaining"] == "59"
        assert first.headers["ratelimit-policy"] == "60;w=60"
        assert 0 < int(first.headers["ratelimit-reset"]) <= 60
        for _ in range(59):
            assert (await http.get("/hello")).status_code == 200
        refused = await http.get("/hello")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-remaining"] == "0"
    body = refused.json()
    assert body["success"] is False
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["details"]["limit"] == "tier"


async def test_anonymous_callers_are_counted_by_address() -> None:
    app = make_app(RateLimiter(RateLimitConfig(tiers={"anonymous": TierLimit(2, 5)})))
    async with client(app, "10.0.0.1") as one, client(app, "10.0.0.2") as two:
        assert [(await one.get("/hello")).status_code for _ in range(3)] == [200, 200, 429]
        assert (await two.get("/hello")).status_code == 200


async def test_tiers_and_tenants_have_their_own_counters() -> None:
    config = RateLimitConfig(
        tiers={"anonymous": TierLimit(1, 5), "user": TierLimit(2, 5), "premium": TierLimit(4, 5)}
    )
    app = make_app(RateLimiter(config))
    alice_a = principal("alice", "tenant-a")
    alice_b = principal("alice", "tenant-b")  # same subject, other tenant
    vip = principal("vip", "tenant-a", tier="premium")
    async with client(app) as http:
        codes = [(await http.get("/hello", headers=as_(alice_a))).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert (await http.get("/hello", headers=as_(alice_b))).status_code == 200
        codes = [(await http.get("/hello", headers=as_(vip))).status_code for _ in range(5)]
        assert codes == [200] * 4 + [429]
        # A client header cannot pick another key: only the principal does.
        spoof = {**as_(alice_b), "x-forwarded-for": "1.2.3.4", "x-tenant-id": "other"}
        assert (await http.get("/hello", headers=spoof)).status_code == 200
        assert (await http.get("/hello", headers=spoof)).status_code == 429


async def test_login_allows_a_burst_of_3_then_429() -> None:
    app = make_app(RateLimiter(RateLimitConfig()))
    async with client(app) as http:
        codes = [(await http.post("/api/auth/login")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = await http.post("/api/auth/login")
    assert refused.json()["error"]["details"]["limit"] == "POST /api/auth/login"
    assert refused.headers["ratelimit-limit"] == "3"
    assert 1 <= int(refused.headers["retry-after"]) <= 18


async def test_endpoint_limits_key_by_route_template_not_raw_path() -> None:
    app = make_app(RateLimiter(RateLimitConfig()))
    async with client(app) as http:
        codes = [(await http.post(f"/api/games/{n}/play")).status_code for n in range(3)]
        assert codes == [200, 200, 429]  # play: burst 2, whatever the game id
        ok = await http.get("/api/games/1/leaderboard")
        assert ok.status_code == 200
        assert ok.headers["ratelimit-limit"] == "30"  # the endpoint's window, not the tier's


async def test_per_app_endpoint_limits_replace_the_seed_table() -> None:
    config = RateLimitConfig(endpoints=[EndpointLimit("GET /hello", 1, period=60)])
    app = make_app(RateLimiter(config))
    async with client(app) as http:
        assert [(await http.get("/hello")).status_code for _ in range(2)] == [200, 429]
        assert (await http.post("/api/auth/login")).status_code == 200


async def test_health_probes_are_never_limited() -> None:
    app = make_app(RateLimiter(RateLimitConfig(tiers={"anonymous": TierLimit(1, 1)})))
    async with client(app) as http:
        assert {(await http.get("/healthz")).status_code for _ in range(5)} == {200}
        assert "ratelimit-limit" not in (await http.get("/healthz")).headers


async def test_concurrency_cap_refuses_the_sixth_request_in_flight_and_frees_slots() -> None:
    limiter = RateLimiter(RateLimitConfig())
    app = make_app(limiter)
    gate["slow"] = asyncio.Event()
    async with client(app) as http:
        in_flight = [asyncio.create_task(http.get("/slow")) for _ in range(5)]
        await asyncio.sleep(0.05)
        sixth = await http.get("/hello")
        assert sixth.status_code == 429
        assert sixth.json()["error"]["details"]["limit"] == "concurrency"
        gate["slow"].set()
        assert [(await t).status_code for t in in_flight] == [200] * 5
        assert (await http.get("/hello")).status_code == 200
    assert limiter.stats.rejected_concurrency == 1


async def test_a_failing_handler_still_releases_its_slot() -> None:
    limiter = RateLimiter(RateLimitConfig(tiers={"anonymous": TierLimit(100, 1)}))
    app = make_app(limiter)
    gate["slow"] = asyncio.Event()
    async with client(app) as http:
        task = asyncio.create_task(http.get("/slow"))
        await asyncio.sleep(0.05)
        assert (await http.get("/hello")).status_code == 429
        task.cancel()  # the client goes away mid-request
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0.01)
        assert (await http.get("/hello")).status_code == 200
