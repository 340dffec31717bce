"""A small app for real ``headwater serve`` processes: limited routes and a cached read.

Loaded by ``testing.server.serve(apps=[...])`` as three modules (the cache, the
limiter, the routes). Everything here is anonymous, so both server processes of a
test count the same caller (127.0.0.1) against the same Redis counters.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

from fastapi import APIRouter, Request

from headwater.cache import CacheModule, CachePolicy
from headwater.modules import Module
from headwater.ratelimit import EndpointLimit, Outage, RateLimitConfig, RateLimitModule, TierLimit
from headwater.resilience import BreakerConfig, RedisOptions

FAST = RedisOptions(timeout=0.3, breaker=BreakerConfig(failure_threshold=2, reset_timeout=0.5))
# Per hour, so nothing refills during a test: the count of 200s is exact.
SHARED_LIMIT = 20
router = APIRouter()
#: How often this process computed the read below from its "read model".
computed = {"n": 0}


@router.get("/limited")
async def limited() -> dict[str, bool]:
    return {"ok": True}


@router.get("/closed")
async def closed() -> dict[str, bool]:
    return {"ok": True}


@router.get("/open")
async def open_() -> dict[str, bool]:
    return {"ok": True}


@router.get("/read")
async def read(request: Request) -> dict[str, Any]:
    cache = request.app.state.runtime.require_cache()

    async def from_read_model() -> dict[str, Any]:
        computed["n"] += 1
        return {"guests": 3, "pid": os.getpid()}

    value = await cache.get_or_compute(
        "guests", from_read_model, policy=CachePolicy("t", ttl=60, l1_ttl=0.2)
    )
    return {"value": value, "computed": computed["n"]}


class Routes(Module):
    name: ClassVar[str] = "ratelimit-test-routes"

    def routers(self) -> Sequence[APIRouter]:
        return (router,)


routes = Routes()
cache = CacheModule(namespace=os.environ.get("TEST_NAMESPACE", "hwtest") + ":cache", redis=FAST)
ratelimit = RateLimitModule(
    RateLimitConfig(
        tiers={t: TierLimit(per_minute=100_000, concurrent=1000) for t in ("anonymous",)},
        endpoints=(
            EndpointLimit("GET /limited", SHARED_LIMIT, period=3600, on_outage=Outage.CLOSED),
            EndpointLimit("GET /closed", 1000, period=3600, on_outage=Outage.CLOSED),
            EndpointLimit("GET /open", 1000, period=3600, on_outage=Outage.OPEN),
        ),
        key_prefix=os.environ.get("TEST_NAMESPACE", "hwtest") + ":rl",
    ),
    redis=FAST,
)
