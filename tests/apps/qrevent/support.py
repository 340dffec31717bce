"""Builders for QR Event's tests: an app with security and QR Event, and an organizer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from apps.qrevent.module import QrEventModule
from headwater.app import create_app
from headwater.http._security import SecurityModule
from headwater.modules import Module
from tests.security.support import (
    PASSWORD,
    Client,
    Tenant,
    app_settings,
    create_tenant,
    root_headers,
    security_config,
)

PASSWORD_OF_STAFF = PASSWORD


def make_app(database_url: str, tmp_path: Path, *, rate_limits: bool = False) -> FastAPI:
    """QR Event with the core modules, its jobs (leaderboard refreshes) included."""
    settings = app_settings(database_url, tmp_path, rate_limits=rate_limits)
    apps: list[Module] = [QrEventModule()]
    return create_app(settings, plugins=[SecurityModule(security_config())], apps=apps)


@dataclass
class Organizer:
    """A tenant plus cached credentials: a staff login and a door-scanner API key."""

    client: Client
    tenant: Tenant
    staff: dict[str, str] = field(default_factory=dict)

    @property
    def door(self) -> dict[str, str]:
        return {"x-api-key": self.tenant.api_key}

    def post(self, path: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(
            path, json=json, headers={**self.staff, **kw.pop("headers", {})}, **kw
        )

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self.staff, **kw)

    def patch(self, path: str, json: Any) -> Any:
        return self.client.patch(path, json=json, headers=self.staff)

    def data(self, response: Any, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()["data"]

    def live_event(self, gates: list[str] | None = None, undo: int = 120) -> str:
        body = {
            "name": "Ada & Bob's wedding",
            "venue": "Old Mill",
            "capacity": 300,
            "gates": gates or ["north", "south"],
            "undo_window_seconds": undo,
        }
        event_id: str = self.data(self.post("/api/events", body), 201)["event_id"]
        for status in ("published", "live"):
            self.data(self.post(f"/api/events/{event_id}/status", {"status": status}))
        return event_id

    def guest(
        self,
        event_id: str,
        first: str = "Ada",
        last: str = "Lovelace",
        family_id: str | None = None,
    ) -> str:
        body: dict[str, Any] = {"first_name": first, "last_name": last}
        if family_id:
            body["family_id"] = family_id
        guest_id: str = self.data(self.post(f"/api/events/{event_id}/guests", body), 201)[
            "guest_id"
        ]
        return guest_id

    def invite(self, event_id: str, **target: str) -> dict[str, Any]:
        invitation: dict[str, Any] = self.data(
            self.post(f"/api/events/{event_id}/invitations", target), 201
        )
        return invitation

    def scan(self, event_id: str, code: str, gate: str = "north", **extra: Any) -> Any:
        body = {
            "scan_id": extra.pop("scan_id", uuid.uuid4().hex),
            "code": code,
            "gate": gate,
            **extra,
        }
        return self.client.post(f"/api/events/{event_id}/scans", json=body, headers=self.door)

    def counts(self, event_id: str) -> dict[str, Any]:
        counts: dict[str, Any] = self.data(self.get(f"/api/events/{event_id}/counts"))
        return counts


def organizer(client: Client, name: str) -> Organizer:
    tenant = create_tenant(client, root_headers(client), name)
    org = Organizer(client, tenant)
    org.staff = tenant.staff(client)
    return org
