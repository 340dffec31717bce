"""``RateLimiter``: decides one request against its tier, its endpoint limits and its
concurrency cap, and says what to put in the ``RateLimit-*`` headers.

Counters are keyed by who is asking — tenant and subject for a signed-in caller,
the client address for an anonymous one. An endpoint limit may name the credential
its route checks instead (``EndpointLimit.key``: a guest's invitation header, a
public link in the path); its counter, the tier's and the concurrency cap are then
that credential's, so a hundred guests behind one venue address are a hundred
callers. Such a key is a header the client chooses: a made-up value buys a fresh
counter but not a pass, since the route refuses a credential it cannot verify, and
values are hashed before they name a counter.
Checks run tightest first (an endpoint's burst window, its full window, then the
tier) and stop at the first refusal, so a refused request is not counted against
the looser windows after it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import math
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from limits import RateLimitItem, RateLimitItemPerMinute

from headwater.identity._principal import Principal
from headwater.ratelimit._config import EndpointLimit, Outage, RateLimitConfig
from headwater.ratelimit._routes import RouteTable
from headwater.ratelimit._storage import STORAGE_DOWN, LimitStorage, MemoryLimitStorage


class _Unavailable(Exception):
    """A fail-closed limit could not reach its counters."""


@dataclass(slots=True)
class Lease:
    storage: LimitStorage
    key: str
    id: str


@dataclass(slots=True)
class Decision:
    allowed: bool
    #: 429 (over a limit) or 503 (a fail-closed limit during an outage) when refused.
    status: int = 200
    #: The limit the headers describe; None when unknown (an outage without fallback).
    limit: int | None = None
    remaining: int = 0
    reset: int = 0
    window: int = 60
    retry_after: int = 0
    reason: str = ""
    lease: Lease | None = None

    def headers(self) -> list[tuple[bytes, bytes]]:
        out: list[tuple[bytes, bytes]] = []
        if self.limit is not None:
            out += [
                (b"ratelimit-limit", str(self.limit).encode()),
                (b"ratelimit-remaining", str(max(0, self.remaining)).encode()),
                (b"ratelimit-reset", str(self.reset).encode()),
                (b"ratelimit-policy", f"{self.limit};w={self.window}".encode()),
            ]
        if not self.allowed:
            out.append((b"retry-after", str(max(1, self.retry_after)).encode()))
        return out


@dataclass(slots=True)
class RateLimitStats:
    allowed: int = 0
    rejected: int = 0
    rejected_concurrency: int = 0
    #: Checks decided by an outage policy, by policy.
    outage: dict[str, int] = field(default_factory=lambda: dict.fromkeys(Outage, 0))


class RateLimiter:
    def __init__(self, config: RateLimitConfig, storage: LimitStorage | None = None) -> None:
        self.config = config
        self.storage: LimitStorage = storage or MemoryLimitStorage()
        #: For ``Outage.LOCAL``: this node's own counters while Redis is away.
        self.local = self.storage if storage is None else MemoryLimitStorage()
        self.routes = RouteTable(config.endpoints)
        self._windows = {limit: limit.windows() for limit in config.endpoints}
        self._tiers = {
            name: (RateLimitItemPerMinute(tier.per_minute), tier.concurrent)
            for name, tier in config.tiers.items()
        }
        self._exempt = tuple(config.exempt)
        self._unbounded = tuple(config.unbounded)
        node = uuid.uuid4().hex[:8]
        self._lease_ids = (f"{node}:{n}" for n in itertools.count())
        self.stats = RateLimitStats()

    def exempt(self, path: str) -> bool:
        return path.startswith(self._exempt)

    @staticmethod
    def identity(principal: Principal, client: str | None) -> str:
        if principal.is_authenticated:
            return f"t:{principal.tenant_id or '-'}:s:{principal.subject}"
        return f"ip:{client or 'unknown'}"

    @staticmethod
    def keyed(limit: EndpointLimit, path: str, headers: Mapping[str, str]) -> str | None:
        """The identity ``limit.key`` names in this request; None if it names none here."""
        kind, _, arg = limit.key.partition(":")
        value: str | None = None
        if kind == "header":
            value = headers.get(arg.lower())
        elif kind == "segment":
            segments = path.strip("/").split("/")
            value = segments[int(arg)] if int(arg) < len(segments) else None
        if not value:
            return None
        digest = hashlib.blake2b(value.encode(), digest_size=12).hexdigest()
        return f"k:{limit.key}:{digest}"

    async def check(
        self,
        principal: Principal,
        method: str,
        path: str,
        client: str | None,
        headers: Mapping[str, str] | None = None,
    ) -> Decision:
        caller = self.identity(principal, client)
        matched = self.routes.match(method, path)
        given: Mapping[str, str] = {} if headers is None else headers
        keys = {limit: self.keyed(limit, path, given) for limit in matched}
        # The first credential an endpoint names is the caller for the tier and the cap.
        who = next((k for k in keys.values() if k is not None), caller)
        tier_item, concurrent = self._tiers.get(principal.tier) or self._tiers["anonymous"]
        try:
            headline: tuple[RateLimitItem, Sequence[str], Outage] | None = None
            ids: Sequence[str]
            for limit in matched:
                ids = ("ep", limit.route, keys[limit] or caller)
                for item in self._windows[limit]:
                    if not await self._hit(item, ids, limit.on_outage):
                        return await self._refuse(item, ids, limit.on_outage, limit.route)
                headline = (item, ids, limit.on_outage)
            tier_ids: Sequence[str] = ("tier", principal.tier, who)
            if not await self._hit(tier_item, tier_ids, self.config.tier_on_outage):
                return await self._refuse(tier_item, tier_ids, self.config.tier_on_outage, "tier")
            lease = None
            if not path.startswith(self._unbounded):
                lease = await self._acquire(who, concurrent)
                if lease is None:
                    self.stats.rejected_concurrency += 1
                    return Decision(False, 429, retry_after=1, reason="concurrency")
        except _Unavailable:
            self.stats.rejected += 1
            return Decision(False, 503, retry_after=1, reason="unavailable")
        self.stats.allowed += 1
        decision = Decision(True, lease=lease)
        item, ids, outage = headline or (tier_item, tier_ids, self.config.tier_on_outage)
        await self._describe(decision, item, ids, outage)
        return decision

    async def release(self, lease: Lease) -> None:
        # If Redis is unreachable the lease expires on its own (config.lease_seconds).
        with contextlib.suppress(*STORAGE_DOWN):
            await lease.storage.release(lease.key, lease.id)

    # --- each storage call with its outage policy ----------------------------------------

    def _storage_for(self, outage: Outage) -> LimitStorage:
        self.stats.outage[outage] += 1
        if outage is Outage.CLOSED:
            raise _Unavailable
        return self.local

    async def _hit(self, item: RateLimitItem, ids: Sequence[str], outage: Outage) -> bool:
        try:
            return await self.storage.hit(item, *ids)
        except STORAGE_DOWN:
            if outage is Outage.OPEN:
                self.stats.outage[outage] += 1
                return True
            return await self._storage_for(outage).hit(item, *ids)

    async def _window(
        self, item: RateLimitItem, ids: Sequence[str], outage: Outage
    ) -> tuple[float, int] | None:
        try:
            return await self.storage.stats(item, *ids)
        except STORAGE_DOWN:
            if outage is not Outage.LOCAL:
                return None
            return await self.local.stats(item, *ids)

    async def _describe(
        self, decision: Decision, item: RateLimitItem, ids: Sequence[str], outage: Outage
    ) -> None:
        window = await self._window(item, ids, outage)
        if window is None:
            return
        reset_at, remaining = window
        decision.limit = item.amount
        decision.remaining = remaining
        decision.window = item.get_expiry()
        decision.reset = max(0, math.ceil(reset_at - time.time()))

    async def _refuse(
        self, item: RateLimitItem, ids: Sequence[str], outage: Outage, reason: str
    ) -> Decision:
        self.stats.rejected += 1
        decision = Decision(False, 429, reason=reason)
        await self._describe(decision, item, ids, outage)
        decision.retry_after = max(1, decision.reset)
        return decision

    async def _acquire(self, who: str, limit: int) -> Lease | None:
        lease_id = next(self._lease_ids)
        seconds = self.config.lease_seconds
        try:
            if await self.storage.acquire(who, limit, lease_id, seconds):
                return Lease(self.storage, who, lease_id)
            return None
        except STORAGE_DOWN:
            outage = self.config.tier_on_outage
            if outage is Outage.OPEN:
                self.stats.outage[outage] += 1
                return _NO_LEASE
            local = self._storage_for(outage)
            if await local.acquire(who, limit, lease_id, seconds):
                return Lease(local, who, lease_id)
            return None


class _NoopStorage(MemoryLimitStorage):
    async def release(self, key: str, lease: str) -> None:
        return None


#: Stands for "allowed without holding a slot" (fail-open during an outage).
_NO_LEASE = Lease(_NoopStorage(), "", "")


def describe_limits(config: RateLimitConfig) -> list[dict[str, object]]:
    """The configured limits as data, for the dashboard and docs."""
    out: list[dict[str, object]] = [
        {"tier": name, "per_minute": t.per_minute, "concurrent": t.concurrent}
        for name, t in config.tiers.items()
    ]
    for limit in config.endpoints:
        out.append(_endpoint(limit))
    return out


def _endpoint(limit: EndpointLimit) -> dict[str, object]:
    return {
        "route": limit.route,
        "limit": limit.limit,
        "period": limit.period,
        "burst": limit.burst,
        "on_outage": limit.on_outage.value,
        "key": limit.key,
    }
