"""Outbound HTTP (webhooks, an app's calls to other services) through one guarded transport.

::

    async with outbound_client(egress=EgressPolicy.of(settings.outbound_allow)) as client:
        await client.post(url, content=body, headers={"Idempotency-Key": delivery_id})

Under everything sits ``egress.GuardedTransport``: only public addresses (or networks
an operator allowed), checked on every redirect hop and connected to as checked,
answers read up to a bound (see ``headwater.resilience._egress``).

``ResilientTransport`` wraps any httpx transport and gives each destination host its
own ``Guard``: a breaker per host (one dead receiver must not stop deliveries to
the others), a bulkhead per host, a per-attempt timeout, and retries with backoff
and jitter. Only requests that are safe to repeat are retried: idempotent methods,
and any request carrying an ``Idempotency-Key`` (every webhook delivery has one).
A 502/503/504 or 429 answer counts as a failure for the breaker and the retries;
when the retries run out the last such response is returned, not an exception,
so the caller sees what the receiver said.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from headwater.errors import CallTimeout
from headwater.resilience._breaker import BreakerConfig, CircuitBreaker
from headwater.resilience._bulkhead import Bulkhead
from headwater.resilience._egress import EgressPolicy, GuardedTransport, Resolver, resolve
from headwater.resilience._guard import Guard
from headwater.resilience._retry import RetryPolicy

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


_RETRY = RetryPolicy(
    attempts=3, initial=0.2, maximum=5.0, jitter=0.2, retry_on=(httpx.TransportError, CallTimeout)
)
_BREAKER = BreakerConfig(failure_threshold=5, reset_timeout=30.0)


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    timeout: float = 10.0
    retry: RetryPolicy = _RETRY
    breaker: BreakerConfig = _BREAKER
    max_concurrent: int = 20
    max_queue: int = 100


class _RetryableResponse(httpx.TransportError):
    """Carries a 5xx/429 answer through the retry and breaker layers as a failure."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


@dataclass
class ResilientTransport(httpx.AsyncBaseTransport):
    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)
    policy: OutboundPolicy = field(default_factory=OutboundPolicy)
    guards: dict[str, Guard] = field(default_factory=dict)

    def guard_for(self, host: str) -> Guard:
        guard = self.guards.get(host)
        if guard is None:
            name = f"outbound:{host}"
            p = self.policy
            guard = Guard(
                name,
                breaker=CircuitBreaker(name, p.breaker),
                retry=p.retry,
                timeout=p.timeout,
                bulkhead=Bulkhead(name, p.max_concurrent, max_queue=p.max_queue),
            )
            self.guards[host] = guard
        return guard

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        guard = self.guard_for(request.url.host)
        repeatable = request.method in IDEMPOTENT_METHODS or "idempotency-key" in request.headers
        if not repeatable:
            guard = Guard(guard.name, guard.breaker, None, guard.timeout, guard.bulkhead)
        await request.aread()  # a buffered body can be sent again

        async def attempt() -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            if response.status_code in RETRYABLE_STATUSES:
                await response.aread()
                raise _RetryableResponse(response)
            return response

        try:
            return await guard.call(attempt)
        except _RetryableResponse as exc:
            return exc.response

    async def aclose(self) -> None:
        await self.inner.aclose()


#: Redirects followed; each hop is checked by the egress guard like the first.
MAX_REDIRECTS = 3


def outbound_client(
    policy: OutboundPolicy | None = None,
    *,
    egress: EgressPolicy | None = None,
    inner: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver = resolve,
    **client_options: object,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose every request goes through ``ResilientTransport``
    over the egress guard (``egress``: public addresses only unless it allows more).

    ``inner`` replaces the network transport (a test's ``MockTransport``), never the
    guard; ``resolver`` replaces name resolution (a test's fixed answers).
    """
    policy = policy or OutboundPolicy()
    guarded = GuardedTransport(
        inner=inner or httpx.AsyncHTTPTransport(),
        policy=egress or EgressPolicy(),
        resolver=resolver,
    )
    transport = ResilientTransport(inner=guarded, policy=policy)
    options: dict[str, object] = {
        "follow_redirects": True,
        "max_redirects": MAX_REDIRECTS,
        "timeout": httpx.Timeout(policy.timeout),
        **client_options,
    }
    return httpx.AsyncClient(transport=transport, **options)  # type: ignore[arg-type]
