"""Alert webhooks: signed with HMAC-SHA256, delivered through the resilient outbound client.

Each delivery carries::

    Content-Type: application/json
    Headwater-Signature: t=1732200000,v1=<hex hmac-sha256 of "1732200000.<body>">
    Idempotency-Key: <delivery id>

The timestamp is inside the signed text so a captured delivery cannot be replayed
later (``verify_signature`` refuses one older than ``tolerance`` seconds); the
idempotency key lets ``headwater.resilience._outbound`` retry a POST safely and lets
the receiver drop a repeat.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx
import orjson

from headwater.errors import OutboundFailed
from headwater.observability._alerts import Alert
from headwater.observability._tracing import inject
from headwater.resilience._egress import EgressPolicy, failure_reason
from headwater.resilience._outbound import OutboundPolicy, outbound_client
from headwater.security._opaque import equal_text

SIGNATURE_HEADER = "Headwater-Signature"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(
    secret: str, body: bytes, header: str, *, tolerance: float = 300.0, now: float | None = None
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and is recent enough."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).rsplit("v1=", 1)[1]
    return equal_text(expected, given)


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    secret: str = field(repr=False)


@dataclass
class WebhookAlertSink:
    """POSTs each alert to every webhook; a failure is logged by the evaluator, not raised
    past it, and one receiver's failure does not stop delivery to the others."""

    webhooks: Sequence[Webhook]
    policy: OutboundPolicy = field(default_factory=OutboundPolicy)
    client: httpx.AsyncClient | None = None
    #: Called with the URL of each failed delivery (the module counts them in metrics).
    on_failure: Callable[[str], None] | None = None
    #: Where deliveries may go besides public addresses (the module sets the operator's
    #: ``Settings.outbound_allow`` at start).
    egress: EgressPolicy = field(default_factory=EgressPolicy)

    def _client(self) -> httpx.AsyncClient:
        if self.client is None:
            self.client = outbound_client(self.policy, egress=self.egress)
        return self.client

    async def emit(self, alert: Alert) -> None:
        body = orjson.dumps({"type": "system.alert", "data": alert.to_dict()})
        delivery = str(uuid.uuid4())
        errors: list[str] = []
        for hook in self.webhooks:
            headers = inject(
                {
                    "content-type": "application/json",
                    SIGNATURE_HEADER: sign(hook.secret, body, int(time.time())),
                    "idempotency-key": delivery,
                }
            )
            try:
                response = await self._client().post(hook.url, content=body, headers=headers)
                if response.status_code >= 300:
                    raise OutboundFailed(f"HTTP {response.status_code}")
            except Exception as exc:
                if self.on_failure is not None:
                    self.on_failure(hook.url)
                # A short reason: never the receiver's body (the log has the cause).
                errors.append(f"{hook.url}: {failure_reason(exc)}")
        if errors:
            raise OutboundFailed("alert webhook delivery failed: " + "; ".join(errors))

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None
