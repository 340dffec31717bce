"""Notification channels besides the signed webhook: Slack-compatible webhooks and email.

- ``SlackAlertSink`` POSTs ``{"text": "..."}``, the shape Slack's incoming webhooks
  (and Mattermost's, Rocket.Chat's, Teams' legacy connectors) accept, through the one
  guarded outbound client, so the egress allow-list and retries apply as to any call out.
- ``EmailAlertSink`` sends one message per alert over SMTP with the standard library,
  in a worker thread (``smtplib`` blocks), STARTTLS and login when configured.

Channels are configured by the operator (settings), never by a rule: a rule only
names channels (``AlertRule.channels``), so whoever may edit rules cannot point
alerts, or the server's requests, at an address of their choosing.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

import httpx

from headwater.errors import OutboundFailed
from headwater.observability._alerts import Alert, AlertSink
from headwater.observability._webhooks import Webhook, WebhookAlertSink
from headwater.resilience._egress import EgressPolicy, failure_reason
from headwater.resilience._outbound import OutboundPolicy, outbound_client
from headwater.settings import Settings


def headline(alert: Alert) -> str:
    """One line an operator reads on a phone: level, rule, status, value, threshold."""
    if alert.status == "raised":
        return f"[{alert.severity.upper()}] {alert.summary}"
    return (
        f"[{alert.severity.upper()}] {alert.rule} {alert.status}: {alert.summary} "
        f"({alert.metric} = {alert.value:g}, threshold {alert.threshold:g})"
    )


def _details(alert: Alert) -> str:
    lines = [headline(alert), "", f"at: {alert.at}"]
    if alert.route:
        lines.append(f"route: {alert.route}")
    lines += [f"{key}: {value}" for key, value in sorted(alert.context.items())]
    return "\n".join(lines) + "\n"


@dataclass
class SlackAlertSink:
    url: str = field(repr=False)
    policy: OutboundPolicy = field(default_factory=OutboundPolicy)
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    client: httpx.AsyncClient | None = None

    async def emit(self, alert: Alert) -> None:
        if self.client is None:
            self.client = outbound_client(self.policy, egress=self.egress)
        try:
            response = await self.client.post(self.url, json={"text": headline(alert)})
        except Exception as exc:
            raise OutboundFailed(f"slack alert delivery failed: {failure_reason(exc)}") from exc
        if response.status_code >= 300:
            raise OutboundFailed(f"slack alert delivery failed: HTTP {response.status_code}")

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None


@dataclass
class EmailAlertSink:
    host: str
    port: int
    sender: str
    recipients: Sequence[str]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 10.0

    def message(self, alert: Alert) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        # Header injection: a summary from app code must not start a new header line.
        message["Subject"] = " ".join(headline(alert).split())[:200]
        message.set_content(_details(alert))
        return message

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username is not None:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)

    async def emit(self, alert: Alert) -> None:
        try:
            await asyncio.to_thread(self._send, self.message(alert))
        except (OSError, smtplib.SMTPException) as exc:
            raise OutboundFailed(f"alert email failed: {type(exc).__name__}") from exc

    async def aclose(self) -> None:
        return None


def channels_from_settings(settings: Settings) -> dict[str, AlertSink]:
    """The channels the operator configured, by the names rules use."""
    egress = EgressPolicy.of(settings.outbound_allow)
    channels: dict[str, AlertSink] = {}
    if settings.alert_webhook_url and settings.alert_webhook_secret is not None:
        secret = settings.alert_webhook_secret.get_secret_value()
        channels["webhook"] = WebhookAlertSink(
            [Webhook(settings.alert_webhook_url, secret)], egress=egress
        )
    if settings.alert_slack_url is not None:
        channels["slack"] = SlackAlertSink(
            settings.alert_slack_url.get_secret_value(), egress=egress
        )
    if settings.alert_email_host and settings.alert_email_to:
        password = settings.alert_email_password
        channels["email"] = EmailAlertSink(
            host=settings.alert_email_host,
            port=settings.alert_email_port,
            sender=settings.alert_email_from,
            recipients=list(settings.alert_email_to),
            username=settings.alert_email_username,
            password=None if password is None else password.get_secret_value(),
            starttls=settings.alert_email_starttls,
        )
    return channels
