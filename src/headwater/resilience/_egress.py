"""Where calls out may go: the address guard under every tenant-configured call.

A tenant can type a URL (a form's webhook) that makes the server call out. Without
a guard that URL can name ``127.0.0.1``, a private network or the cloud metadata
service (``169.254.169.254``), and the tenant learns something from the answer.
:class:`GuardedTransport` is the httpx transport that

- resolves the host itself and refuses the call unless *every* address it resolves
  to is public (``ipaddress``'s ``is_global``: not loopback, private, link-local,
  carrier-grade NAT, documentation, reserved or unspecified) and not multicast, or
  lies in a network the operator allow-listed (``Settings.outbound_allow``);
- connects to the address it checked: the request's URL is rewritten to that IP,
  the ``Host`` header and TLS server name keep the name, so no second lookup (DNS
  rebinding between check and connect) can send the bytes elsewhere;
- is below httpx's redirect handling, so every hop of a redirect is checked again;
- reads at most ``max_response_bytes`` of an answer: a receiver cannot fill memory.

Every failure is an :class:`~headwater.errors.OutboundFailed` whose message is a
short reason (:func:`failure_reason` turns any exception into one) that can be
shown to the tenant.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

import httpx

from headwater.errors import (
    AddressNotAllowed,
    BulkheadFull,
    CallTimeout,
    CircuitOpen,
    InvalidInput,
    OutboundFailed,
)

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``resolve(host, port)`` -> the addresses a name stands for.
Resolver: TypeAlias = Callable[[str, int], Awaitable[list[IPAddress]]]

#: Answers are read up to this much (webhook receivers answer with a status).
MAX_RESPONSE_BYTES: Final = 64 * 1024


def _plain(address: IPAddress) -> IPAddress:
    # ::ffff:127.0.0.1 is 127.0.0.1: judge the IPv4 address it carries.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """Public addresses, plus the networks an operator allowed (tests, demos, a LAN)."""

    allow: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, networks: Iterable[str]) -> EgressPolicy:
        """From ``Settings.outbound_allow``: CIDRs or single addresses."""
        parsed = []
        for text in networks:
            try:
                parsed.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError as exc:
                raise InvalidInput(
                    f"outbound_allow: {text!r} is not an address or network"
                ) from exc
        return cls(tuple(parsed))

    def permits(self, address: IPAddress) -> bool:
        address = _plain(address)
        if any(address in network for network in self.allow):
            return True
        return address.is_global and not address.is_multicast


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses of ``host`` (itself, for a literal), from the system resolver."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OutboundFailed("name not resolved") from exc
    # An IPv6 link-local answer carries its zone ("fe80::1%eth0"): judge the address.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]


@dataclass
class GuardedTransport(httpx.AsyncBaseTransport):
    inner: httpx.AsyncBaseTransport = field(default_factory=httpx.AsyncHTTPTransport)
    policy: EgressPolicy = field(default_factory=EgressPolicy)
    resolver: Resolver = resolve
    max_response_bytes: int = MAX_RESPONSE_BYTES

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise OutboundFailed("only http and https targets are allowed")
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = await self.resolver(url.host, port)
        if not addresses:
            raise OutboundFailed("name not resolved")
        if not all(self.policy.permits(a) for a in addresses):
            # All, not any: a name answering with one public and one private address
            # would otherwise reach the private one on some attempts.
            raise AddressNotAllowed("address not allowed")
        checked = _plain(addresses[0])
        extensions = dict(request.extensions)
        if url.scheme == "https":
            extensions["sni_hostname"] = url.host  # the certificate is checked for the name
        pinned = httpx.Request(
            request.method,
            url.copy_with(host=str(checked)),
            headers=request.headers,  # Host: still the name the tenant gave
            stream=request.stream,
            extensions=extensions,
        )
        response = await self.inner.handle_async_request(pinned)
        body = await self._bounded_body(response)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=body,
            extensions=response.extensions,
            request=request,
        )

    async def _bounded_body(self, response: httpx.Response) -> bytes:
        body = bytearray()
        try:
            async for chunk in response.stream:  # type: ignore[union-attr]
                body += chunk
                if len(body) > self.max_response_bytes:
                    raise OutboundFailed("response too large")
        finally:
            await response.aclose()
        return bytes(body)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from (the OS error under httpx's own), bounded."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(found) < 10:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def failure_reason(exc: BaseException) -> str:
    """A short reason for a failed call out, fit to show the tenant who set it up."""
    if isinstance(exc, OutboundFailed):
        return exc.message
    if isinstance(exc, CircuitOpen):
        return "receiver failing: paused (circuit open)"
    if isinstance(exc, BulkheadFull):
        return "too many deliveries in flight"
    if isinstance(exc, (httpx.TimeoutException, CallTimeout, asyncio.TimeoutError)):
        return "timed out"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, httpx.ConnectError):
        text = " ".join(str(e).lower() for e in _causes(exc))
        if "refused" in text or any(isinstance(e, ConnectionRefusedError) for e in _causes(exc)):
            return "connection refused"
        if "certificate" in text or "ssl" in text:
            return "TLS handshake failed"
        return "connection failed"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.TransportError):
        return "connection failed"
    return "delivery failed"


def refused_status(response: httpx.Response) -> OutboundFailed | None:
    """``HTTP <status>`` for an answer that is not a 2xx (the body is never echoed)."""
    if response.is_success:
        return None
    return OutboundFailed(f"HTTP {response.status_code}")


__all__: Sequence[str] = [
    "MAX_RESPONSE_BYTES",
    "EgressPolicy",
    "GuardedTransport",
    "failure_reason",
    "refused_status",
    "resolve",
]
