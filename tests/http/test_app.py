"""The app factory: runtime, module routes, the envelope and one error shape."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_module_route_answers_in_the_envelope(client: TestClient) -> None:
    response = client.post("/things", json={"name": "lamp", "size": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["data"] == {"name": "lamp", "size": 3}
    assert body["meta"]["timestamp"].endswith("Z")


def test_unknown_field_is_422_with_the_error_shape(client: TestClient) -> None:
    response = client.post("/things", json={"name": "lamp", "size": 3, "colour": "red"})
    assert response.status_code == 422
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "validation_failed"
    assert body["error"]["details"]["errors"][0]["loc"] == ["body", "colour"]


def test_malformed_json_is_a_4xx_not_a_5xx(client: TestClient) -> None:
    response = client.post(
        "/things", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_failed"


def test_headwater_errors_map_to_their_status_and_code(client: TestClient) -> None:
    response = client.get("/conflict")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert error["details"] == {"stream_id": "s-1", "expected": "3", "actual": 4}


def test_a_bug_is_a_500_with_the_error_shape_and_no_traceback(client: TestClient) -> None:
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"] == {
        "code": "internal_error",
        "message": "the server failed to handle this",
        "details": {},
    }


def test_unknown_route_and_method(client: TestClient) -> None:
    assert client.get("/missing").json()["error"]["code"] == "not_found"
    response = client.delete("/things")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "head_position": 0}


def test_health_routes_answer_head_with_no_body(client: TestClient) -> None:
    for path in ("/healthz", "/readyz"):
        response = client.head(path)
        assert response.status_code == 200, path
        assert response.content == b""


def test_docs_are_the_vendored_page_and_redoc_is_gone(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-cache"
    scripts = list(page.text.split('src="')[1:])
    assert scripts
    assert all(s.startswith("/docs/assets/") for s in scripts)
    bundle = next(s.split('"')[0] for s in scripts if "swagger-ui-bundle" in s)
    asset = client.get(bundle)
    assert asset.status_code == 200
    assert asset.headers["content-type"].startswith("text/javascript")
    assert client.get("/redoc").status_code == 404


def test_openapi_documents_module_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/things", "/healthz", "/readyz"} <= set(paths)
