"""Alerts reach people: a real SMTP server (aiosmtpd) and real HTTP receivers (a signed
webhook and a Slack-shaped one) on loopback, configured by settings, as an operator would."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from headwater.app import create_app
from headwater.errors import OutboundFailed
from headwater.observability import Alert, AlertRule, EmailAlertSink, send_alert, verify_signature
from headwater.observability._webhooks import SIGNATURE_HEADER
from tests.http.support import make_settings
from tests.observability.support import portal, quiet_module

#: From this suite's port range: aiosmtpd's controller needs a fixed port to connect to.
SMTP_PORT = 18425
SECRET = "whsec-channels"


@dataclass
class Mailbox:
    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Receiver:
    url: str
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    """Two HTTP receivers on loopback: ``/hook`` (signed webhook), ``/slack``."""
    found: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            target = found[self.path.strip("/")]
            target.bodies.append(body)
            target.headers.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    found.update(hook=Receiver(base + "/hook"), slack=Receiver(base + "/slack"))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_alerts_reach_email_a_signed_webhook_and_slack(
    tmp_path: Path, mailbox: Mailbox, receivers: dict[str, Receiver]
) -> None:
    rules: Sequence[AlertRule] = [
        AlertRule("dead_jobs", "dead_jobs", 0.5, 0.25, for_samples=1, severity="critical"),
        # This one names its channel: only email hears of it.
        AlertRule("email_only", "email_only", 0.5, 0.25, for_samples=1, channels=("email",)),
    ]
    module = quiet_module(rules=rules)
    settings = make_settings(
        tmp_path,
        alert_email_host="127.0.0.1",
        alert_email_port=SMTP_PORT,
        alert_email_from="alerts@headwater.test",
        alert_email_to=["ops@headwater.test"],
        alert_webhook_url=receivers["hook"].url,
        alert_webhook_secret=SECRET,
        alert_slack_url=receivers["slack"].url,
        # The receivers are on loopback, which only the operator's allow-list opens.
        outbound_allow=["127.0.0.1/32"],
    )
    app = create_app(settings, plugins=[module])
    with TestClient(app) as client:
        raised = portal(client).call(_raise)
        fired = portal(client).call(module.evaluator.evaluate, {"dead_jobs": 3, "email_only": 1})
    assert raised is not None
    assert raised.status == "raised"
    assert [a.rule for a in fired] == ["dead_jobs", "email_only"]

    # (A long subject is folded onto a continuation line; readers unfold it.)
    subjects = [str(message["Subject"]).strip() for _, message in mailbox.messages]
    assert subjects == [
        "[CRITICAL] payments provider down",
        "[CRITICAL] dead_jobs firing: dead_jobs firing (dead_jobs = 3, threshold 0.5)",
        "[WARNING] email_only firing: email_only firing (email_only = 1, threshold 0.5)",
    ]
    assert mailbox.messages[0][0] == ["ops@headwater.test"]
    assert "provider: acme" in mailbox.messages[0][1].get_content()

    hook = receivers["hook"]
    assert [orjson.loads(b)["data"]["rule"] for b in hook.bodies] == ["app", "dead_jobs"]
    for body, headers in zip(hook.bodies, hook.headers, strict=True):
        assert verify_signature(SECRET, body, headers[SIGNATURE_HEADER.lower()])

    slack = [orjson.loads(b) for b in receivers["slack"].bodies]
    assert slack == [
        {"text": "[CRITICAL] payments provider down"},
        {"text": "[CRITICAL] dead_jobs firing: dead_jobs firing (dead_jobs = 3, threshold 0.5)"},
    ]


async def _raise() -> Alert | None:
    return await send_alert("critical", "payments provider down", provider="acme")


@pytest.mark.anyio
async def test_an_unreachable_smtp_server_is_a_short_outbound_failure() -> None:
    # Nothing listens on this port of our range: refused at once.
    sink = EmailAlertSink("127.0.0.1", SMTP_PORT + 1, "a@b.test", ["c@d.test"], timeout=2.0)
    alert = Alert("r", "firing", "m", 1.0, 0.5, "warning", "s", "now")
    with pytest.raises(OutboundFailed, match="alert email failed: ConnectionRefusedError"):
        await sink.emit(alert)


def test_a_summary_cannot_add_mail_headers() -> None:
    sink = EmailAlertSink("127.0.0.1", SMTP_PORT, "a@b.test", ["c@d.test"])
    alert = Alert("app", "raised", "", 0, 0, "info", "hi\r\nBcc: evil@x.test", "now")
    message = sink.message(alert)
    assert message["Bcc"] is None
    assert message["Subject"] == "[INFO] hi Bcc: evil@x.test"
