"""Builders shared by the security, tenancy and route tests: apps, logins, two tenants."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
from fastapi import FastAPI

from headwater.app import create_app
from headwater.http._security import SecurityModule
from headwater.security._config import FAST_PASSWORDS, SecurityConfig
from headwater.settings import Settings

SECRET = "test-secret"
ROOT_EMAIL = "root@platform.example"
ROOT_PASSWORD = "root-password-1"
PASSWORD = "correct horse battery"

#: An in-process ``TestClient`` (httpx2) or an ``httpx.Client`` on a real server.
Client = httpx.Client | httpx2.Client


def security_config(**overrides: Any) -> SecurityConfig:
    values: dict[str, Any] = {
        "passwords": FAST_PASSWORDS,
        "bootstrap_admin_email": ROOT_EMAIL,
        "bootstrap_admin_password": ROOT_PASSWORD,
    }
    return SecurityConfig(**{**values, **overrides})


def app_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """The settings the security, app and dashboard tests build their apps with."""
    values: dict[str, Any] = {
        "rate_limits": False,
        "database_url": database_url,
        "data_dir": tmp_path,
        "secret_key": SECRET,
        "auto_migrate": True,
        "hsts": False,
    }
    return Settings(**{**values, **overrides})


def make_app(database_url: str, tmp_path: Path, config: SecurityConfig | None = None) -> FastAPI:
    settings = app_settings(database_url, tmp_path)
    return create_app(settings, plugins=[SecurityModule(config or security_config())])


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def login(client: Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def root_headers(client: Client) -> dict[str, str]:
    return bearer(login(client, ROOT_EMAIL, ROOT_PASSWORD)["access_token"])


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    admin_email: str
    admin_id: str
    staff_email: str
    staff_id: str
    user_email: str
    user_id: str
    api_key: str
    api_key_id: str

    def admin(self, client: Client) -> dict[str, str]:
        return bearer(login(client, self.admin_email)["access_token"])

    def staff(self, client: Client) -> dict[str, str]:
        return bearer(login(client, self.staff_email)["access_token"])

    def user(self, client: Client) -> dict[str, str]:
        return bearer(login(client, self.user_email)["access_token"])


def create_tenant(client: Client, root: dict[str, str], name: str) -> Tenant:
    """A tenant with an admin, a staff member, a user and a staff API key, made over HTTP."""
    created = client.post("/admin/tenants", json={"name": name}, headers=root)
    assert created.status_code == 201, created.text
    tenant_id = created.json()["data"]["id"]
    acting = client.post("/auth/act-as", json={"tenant_id": tenant_id}, headers=root)
    as_admin = bearer(acting.json()["data"]["access_token"])
    slug = name.lower().replace(" ", "-")
    ids = {}
    for role in ("tenant_admin", "staff", "user"):
        response = client.post(
            "/accounts",
            json={"email": f"{role}@{slug}.example", "password": PASSWORD, "roles": [role]},
            headers=as_admin,
        )
        assert response.status_code == 201, response.text
        ids[role] = response.json()["data"]["id"]
    key = client.post("/api-keys", json={"name": f"{name} door"}, headers=as_admin)
    assert key.status_code == 201, key.text
    return Tenant(
        id=tenant_id,
        name=name,
        admin_email=f"tenant_admin@{slug}.example",
        admin_id=ids["tenant_admin"],
        staff_email=f"staff@{slug}.example",
        staff_id=ids["staff"],
        user_email=f"user@{slug}.example",
        user_id=ids["user"],
        api_key=key.json()["data"]["key"],
        api_key_id=key.json()["data"]["id"],
    )
