"""The egress guard: calls out reach public addresses only, on every hop, as checked."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from headwater.errors import AddressNotAllowed, InvalidInput, OutboundFailed
from headwater.resilience import NO_RETRY, OutboundPolicy, outbound_client
from headwater.resilience._egress import EgressPolicy, IPAddress, failure_reason

pytestmark = pytest.mark.anyio

POLICY = OutboundPolicy(timeout=2.0, retry=NO_RETRY)
#: The tests' receivers listen on 127.0.0.2; 127.0.0.1 stays refused.
ALLOW_RECEIVER = EgressPolicy.of(["127.0.0.2/32"])

REFUSED = [
    "http://127.0.0.1/",
    "http://127.1.2.3:8080/",
    "http://localhost/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://10.0.0.5/",
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fe80::1]/",
    "http://[fd00:ec2::254]/",  # AWS metadata over IPv6
    "http://100.100.100.200/",  # Alibaba metadata (carrier-grade NAT range)
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://2130706433/",  # 127.0.0.1 as one integer
]


@pytest.mark.parametrize("url", REFUSED)
async def test_loopback_private_link_local_metadata_and_multicast_are_refused(url: str) -> None:
    async with outbound_client(POLICY) as client:
        with pytest.raises(OutboundFailed) as refused:
            await client.post(url, content=b"x", headers={"idempotency-key": "k"})
    assert failure_reason(refused.value) in ("address not allowed", "name not resolved")


async def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    async def rebinding(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("10.1.2.3")]

    async with outbound_client(POLICY, resolver=rebinding) as client:
        with pytest.raises(AddressNotAllowed):
            await client.get("https://hooks.example/")


class Receiver:
    def __init__(self, host: str, answer: Any) -> None:
        self.hits: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                receiver.hits.append(f"{self.headers['host']} {self.path}")
                status, headers, body = answer(self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback_target() -> Iterator[Receiver]:
    """What a tenant must never reach: a service on 127.0.0.1."""
    target = Receiver("127.0.0.1", lambda path: (200, {}, b"internal secret"))
    yield target
    target.close()


async def test_a_redirect_to_loopback_is_refused_at_the_hop(loopback_target: Receiver) -> None:
    inside = f"http://127.0.0.1:{loopback_target.port}/admin"
    hop = Receiver("127.0.0.2", lambda path: (302, {"location": inside}, b""))
    try:
        async with outbound_client(POLICY, egress=ALLOW_RECEIVER) as client:
            with pytest.raises(AddressNotAllowed):
                await client.get(f"http://127.0.0.2:{hop.port}/hook")
    finally:
        hop.close()
    assert len(hop.hits) == 1
    assert loopback_target.hits == []


async def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    receiver = Receiver("127.0.0.2", lambda path: (200, {}, b"ok"))
    lookups: list[str] = []

    async def once_then_elsewhere(host: str, port: int) -> list[IPAddress]:
        # A rebinding name: checked as 127.0.0.2, would answer 127.0.0.1 next time.
        lookups.append(host)
        first = len(lookups) == 1
        return [ipaddress.ip_address("127.0.0.2" if first else "127.0.0.1")]

    try:
        async with outbound_client(
            POLICY, egress=ALLOW_RECEIVER, resolver=once_then_elsewhere
        ) as client:
            response = await client.get(f"http://hooks.example:{receiver.port}/in")
    finally:
        receiver.close()
    assert response.status_code == 200
    assert lookups == ["hooks.example"]
    assert receiver.hits == [f"hooks.example:{receiver.port} /in"]  # the name stays in Host


async def test_answers_are_read_up_to_a_bound() -> None:
    receiver = Receiver("127.0.0.2", lambda path: (200, {}, b"x" * 200_000))
    try:
        async with outbound_client(POLICY, egress=ALLOW_RECEIVER) as client:
            with pytest.raises(OutboundFailed) as refused:
                await client.get(f"http://127.0.0.2:{receiver.port}/")
    finally:
        receiver.close()
    assert failure_reason(refused.value) == "response too large"


async def test_failure_reasons_are_short_and_never_echo_the_receiver() -> None:
    receiver = Receiver("127.0.0.2", lambda path: (500, {}, b"Traceback: /srv/app.py"))
    try:
        async with outbound_client(POLICY, egress=ALLOW_RECEIVER) as client:
            answer = await client.post(f"http://127.0.0.2:{receiver.port}/", content=b"x")
            closed_port = receiver.port
            receiver.close()
            with pytest.raises(httpx.ConnectError) as refused:
                await client.post(f"http://127.0.0.2:{closed_port}/", content=b"x")
    finally:
        receiver.close()
    assert answer.status_code == 500
    assert failure_reason(httpx.HTTPStatusError("x", request=answer.request, response=answer)) == (
        "HTTP 500"
    )
    assert failure_reason(refused.value) == "connection refused"
    assert failure_reason(RuntimeError("/srv/secret/path.py line 3")) == "delivery failed"


def test_an_allow_list_entry_that_is_not_a_network_is_refused() -> None:
    with pytest.raises(InvalidInput):
        EgressPolicy.of(["not-a-network"])
    assert EgressPolicy.of(["127.0.0.0/8"]).permits(ipaddress.ip_address("127.9.9.9"))
