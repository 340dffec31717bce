"""Request ids, security headers and body limits, on every kind of response."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("path", ["/healthz", "/missing", "/boom"])
def test_security_headers_are_on_every_response(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in headers["content-security-policy"]
    assert headers["strict-transport-security"].startswith("max-age=")
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_request_id_is_generated_and_reported_in_errors(client: TestClient) -> None:
    response = client.get("/missing")
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    assert response.json()["meta"]["requestId"] == request_id


def test_a_safe_client_request_id_is_kept_and_an_odd_one_replaced(client: TestClient) -> None:
    kept = client.get("/healthz", headers={"x-request-id": "abc-123.x"})
    assert kept.headers["x-request-id"] == "abc-123.x"
    replaced = client.get("/healthz", headers={"x-request-id": "<script>"})
    assert replaced.headers["x-request-id"] != "<script>"


def test_declared_oversized_body_is_413(client: TestClient) -> None:
    response = client.post(
        "/things", content=b"x" * 1001, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert "x-request-id" in response.headers


def test_streamed_oversized_body_without_length_is_413(client: TestClient) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 100

    response = client.post(
        "/things", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_invalid_content_length_is_400(client: TestClient) -> None:
    response = client.post("/things", content=b"{}", headers={"content-length": "abc"})
    assert response.status_code in (400, 413)
