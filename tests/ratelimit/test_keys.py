"""Endpoint limits keyed by the credential a route checks, not the caller's address:
guests behind one venue Wi-Fi, respondents on one public link."""

from __future__ import annotations

import pytest
from starlette.types import ASGIApp

from headwater.ratelimit import (
    EndpointLimit,
    RateLimitConfig,
    RateLimiter,
    TierLimit,
    describe_limits,
)
from tests.ratelimit.support import client, make_app

pytestmark = pytest.mark.anyio

PLAY = "POST /api/games/*/play"


def _app(*limits: EndpointLimit) -> ASGIApp:
    config = RateLimitConfig(tiers={"anonymous": TierLimit(2, 5)}, endpoints=limits)
    return make_app(RateLimiter(config))


async def test_three_guests_behind_one_address_are_three_callers() -> None:
    app = _app(EndpointLimit(PLAY, 2, key="header:X-Invitation"))
    async with client(app, "10.9.9.9") as venue:
        for guest in ("inv-a", "inv-b", "inv-c"):
            headers = {"x-invitation": guest}
            codes = [(await venue.post("/api/games/g/play", headers=headers)).status_code]
            codes.append((await venue.post("/api/games/g/play", headers=headers)).status_code)
            assert codes == [200, 200], guest
        # Each guest still has their own limit: a third play of one guest is refused.
        refused = await venue.post("/api/games/g/play", headers={"x-invitation": "inv-a"})
        assert refused.status_code == 429


async def test_without_the_header_the_caller_is_its_address() -> None:
    app = _app(EndpointLimit(PLAY, 10, key="header:X-Invitation"))
    async with client(app, "10.9.9.9") as venue:
        codes = [(await venue.post("/api/games/g/play")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]  # the anonymous tier, per address


async def test_a_path_segment_keys_a_public_link() -> None:
    app = _app(EndpointLimit(PLAY, 1, key="segment:2"))
    async with client(app) as http:
        assert (await http.post("/api/games/link-a/play")).status_code == 200
        assert (await http.post("/api/games/link-a/play")).status_code == 429
        assert (await http.post("/api/games/link-b/play")).status_code == 200


def test_a_key_names_caller_a_header_or_a_segment_number() -> None:
    for bad in ("ip", "header:", "segment:x"):
        with pytest.raises(ValueError, match="rate limit key"):
            EndpointLimit(PLAY, 1, key=bad)
    assert EndpointLimit(PLAY, 1, key="segment:0").key == "segment:0"


async def test_a_keyed_and_a_caller_limit_on_one_route_count_apart() -> None:
    """Per link (generous) and per address (tight) on one route: the address's limit
    still holds however many links it spreads over."""
    app = _app(EndpointLimit(PLAY, 100, key="segment:2"), EndpointLimit(PLAY, 2))
    async with client(app) as http:
        codes = [(await http.post(f"/api/games/link-{n}/play")).status_code for n in range(3)]
    assert codes == [200, 200, 429]


def test_the_described_limits_say_whose_counter() -> None:
    config = RateLimitConfig(endpoints=(EndpointLimit(PLAY, 5, key="header:X-Invitation"),))
    described = describe_limits(config)
    assert {"route": PLAY, "key": "header:X-Invitation"}.items() <= described[-1].items()
