"""CORS by explicit allow-list, with credentials, never a wildcard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from tests.security.support import make_app, security_config

ALLOWED = "https://dashboard.example"


@pytest.fixture
def cors_client(tmp_path: Path) -> Iterator[TestClient]:
    config = security_config(cors_origins=(ALLOWED,))
    with TestClient(make_app(f"sqlite:///{tmp_path / 'c.db'}", tmp_path, config)) as client:
        yield client


def preflight(client: TestClient, origin: str) -> httpx2.Response:
    return client.options(
        "/auth/login",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,authorization",
        },
    )


def test_an_allowed_origin_passes_preflight_with_credentials(cors_client: TestClient) -> None:
    response = preflight(cors_client, ALLOWED)
    assert response.status_code == 200
    headers = response.headers
    assert headers["access-control-allow-origin"] == ALLOWED
    assert headers["access-control-allow-credentials"] == "true"
    assert "authorization" in headers["access-control-allow-headers"].lower()


def test_another_origin_is_refused(cors_client: TestClient) -> None:
    response = preflight(cors_client, "https://evil.example")
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    simple = cors_client.get("/healthz", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_actual_responses_name_the_allowed_origin_never_a_wildcard(cors_client: TestClient) -> None:
    response = cors_client.get("/auth/me", headers={"origin": ALLOWED})
    assert response.status_code == 401  # errors carry CORS headers too, so the app can read them
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert response.headers["vary"].lower().find("origin") >= 0


def test_without_an_allow_list_there_is_no_cors(client: TestClient) -> None:
    response = preflight(client, ALLOWED)
    assert "access-control-allow-origin" not in response.headers
