"""Signed alert webhooks, received by a real HTTP server on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from headwater.errors import OutboundFailed
from headwater.observability import (
    Alert,
    AlertEvaluator,
    AlertRule,
    Webhook,
    WebhookAlertSink,
    sign,
    verify_signature,
)
from headwater.observability._webhooks import SIGNATURE_HEADER
from headwater.resilience import NO_RETRY, OutboundPolicy
from headwater.resilience._egress import EgressPolicy

SECRET = "whsec-test"
#: The receivers here listen on loopback, which only an operator's allow-list opens.
LOOPBACK = EgressPolicy.of(["127.0.0.1/32"])


@dataclass
class Received:
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    status: int = 204


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.bodies.append(body)
            received.headers.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(received.status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.anyio
async def test_a_signed_alert_webhook_verifies_at_the_receiver(
    receiver: tuple[str, Received],
) -> None:
    url, received = receiver
    sink = WebhookAlertSink([Webhook(url, SECRET)], egress=LOOPBACK)
    rule = AlertRule("cpu", "cpu_percent", fire_above=80, resolve_below=60, for_samples=1)
    try:
        alerts = await AlertEvaluator([rule], [sink]).evaluate({"cpu_percent": 97.0})
    finally:
        await sink.aclose()
    assert len(alerts) == 1
    (body,) = received.bodies
    (headers,) = received.headers
    signature = headers[SIGNATURE_HEADER.lower()]
    assert verify_signature(SECRET, body, signature)
    assert not verify_signature("another-secret", body, signature)
    assert not verify_signature(SECRET, body.replace(b"97.0", b"12.0"), signature)
    payload = orjson.loads(body)
    assert payload["type"] == "system.alert"
    assert payload["data"]["rule"] == "cpu"
    assert payload["data"]["status"] == "firing"
    assert headers["idempotency-key"]


@pytest.mark.anyio
async def test_a_failing_receiver_is_reported_not_raised_past_the_evaluator(
    receiver: tuple[str, Received],
) -> None:
    url, received = receiver
    received.status = 500
    failed: list[str] = []
    policy = OutboundPolicy(timeout=2.0, retry=NO_RETRY)
    sink = WebhookAlertSink(
        [Webhook(url, SECRET)], policy=policy, on_failure=failed.append, egress=LOOPBACK
    )
    rule = AlertRule("cpu", "cpu_percent", fire_above=80, resolve_below=60, for_samples=1)
    try:
        alerts = await AlertEvaluator([rule], [sink]).evaluate({"cpu_percent": 99.0})
    finally:
        await sink.aclose()
    assert [a.status for a in alerts] == ["firing"]
    assert failed == [url]


@pytest.mark.anyio
async def test_an_alert_webhook_to_loopback_is_refused_unless_the_operator_allows_it(
    receiver: tuple[str, Received],
) -> None:
    url, received = receiver
    failed: list[str] = []
    sink = WebhookAlertSink([Webhook(url, SECRET)], on_failure=failed.append)
    try:
        with pytest.raises(OutboundFailed) as refused:
            await sink.emit(Alert("r", "firing", "m", 1.0, 0.5, "warning", "s", "now"))
    finally:
        await sink.aclose()
    assert refused.value.message == f"alert webhook delivery failed: {url}: address not allowed"
    assert failed == [url]
    assert received.bodies == []


def test_an_old_signature_is_refused_as_a_replay() -> None:
    body = b'{"x": 1}'
    old = sign(SECRET, body, int(time.time()) - 3600)
    assert not verify_signature(SECRET, body, old)
    assert verify_signature(SECRET, body, old, tolerance=7200)
    assert not verify_signature(SECRET, body, "nonsense")


def test_an_alert_serialises_every_field() -> None:
    alert = Alert("r", "firing", "m", 1.0, 0.5, "warning", "s", "2026-01-01T00:00:00+00:00")
    assert set(alert.to_dict()) == {
        "rule", "status", "metric", "value", "threshold", "severity", "summary", "at",
        "route", "context",
    }  # fmt: skip
