"""The outbound transport: retries what is safe to repeat, a breaker per host."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from headwater.resilience import (
    BreakerConfig,
    CircuitOpen,
    OutboundPolicy,
    RetryPolicy,
    outbound_client,
)
from headwater.resilience._egress import IPAddress

pytestmark = pytest.mark.anyio

POLICY = OutboundPolicy(
    timeout=1.0,
    retry=RetryPolicy(attempts=3, initial=0.001, jitter=0.001, retry_on=(httpx.TransportError,)),
    breaker=BreakerConfig(failure_threshold=3, reset_timeout=60),
)


async def public(host: str, port: int) -> list[IPAddress]:
    """The example names resolve to a public address (documentation ranges are not)."""
    return [ipaddress.ip_address("93.184.215.14")]


def receiver(statuses: list[int], seen: list[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        # The guard connects to the address it checked; the name stays in Host.
        seen.append(f"{request.method} {request.headers['host']} {request.content.decode()}")
        return httpx.Response(statuses.pop(0) if statuses else 200)

    return httpx.MockTransport(handle)


async def test_a_webhook_with_an_idempotency_key_is_retried_until_it_lands() -> None:
    seen: list[str] = []
    async with outbound_client(POLICY, inner=receiver([503, 502], seen), resolver=public) as client:
        response = await client.post(
            "https://hooks.example/in", content=b"evt", headers={"Idempotency-Key": "d-1"}
        )
    assert response.status_code == 200
    assert seen == ["POST hooks.example evt"] * 3  # the body is sent again each time


async def test_a_post_without_a_key_is_not_repeated() -> None:
    seen: list[str] = []
    async with outbound_client(POLICY, inner=receiver([503], seen), resolver=public) as client:
        response = await client.post("https://hooks.example/in", content=b"x")
    assert response.status_code == 503  # what the receiver said, not an exception
    assert len(seen) == 1


async def test_a_dead_host_opens_its_own_breaker_only() -> None:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["host"])
        if request.headers["host"] == "dead.example":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200)

    async with outbound_client(
        POLICY, inner=httpx.MockTransport(handle), resolver=public
    ) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("https://dead.example/")  # 3 attempts: the breaker opens
        with pytest.raises(CircuitOpen):
            await client.get("https://dead.example/")
        assert (await client.get("https://alive.example/")).status_code == 200
    assert seen.count("dead.example") == 3
