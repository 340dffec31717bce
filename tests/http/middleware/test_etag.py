"""ETag / If-None-Match on read GETs: a tag per body, 304 on a match, nothing elsewhere."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.testclient import TestClient

from headwater.app import create_app
from headwater.http.middleware._etag import ETagMiddleware, compute_etag, if_none_match
from tests.http.support import ExampleModule, make_settings

STATE: dict[str, Any] = {"count": 1}


def make_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(ETagMiddleware)

    @app.get("/model")
    async def model() -> dict[str, Any]:
        return {"success": True, "data": {"count": STATE["count"]}}

    @app.head("/model")
    async def model_head() -> dict[str, Any]:
        return {"success": True, "data": {"count": STATE["count"]}}

    @app.post("/model")
    async def bump() -> dict[str, Any]:
        STATE["count"] += 1
        return {"success": True, "data": {"count": STATE["count"]}}

    @app.get("/missing")
    async def missing() -> None:
        raise HTTPException(404, "nope")

    @app.get("/cached")
    async def cached() -> JSONResponse:
        return JSONResponse({"a": 1}, headers={"cache-control": "public, max-age=60"})

    @app.get("/tagged")
    async def tagged() -> JSONResponse:
        return JSONResponse({"a": 1}, headers={"etag": '"mine"'})

    @app.get("/sse")
    async def sse() -> StreamingResponse:
        async def events() -> AsyncIterator[bytes]:
            yield b"data: 1\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            yield b'{"a":'
            yield b"1}"

        return StreamingResponse(parts(), media_type="application/json")

    @app.get("/text")
    async def text() -> Response:
        return Response("hello", media_type="text/plain")

    @app.get("/encoded")
    async def encoded() -> Response:
        body = gzip.compress(b'{"a":1}')
        return Response(body, media_type="application/json", headers={"content-encoding": "gzip"})

    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    STATE["count"] = 1
    with TestClient(make_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_a_read_gets_a_weak_etag_of_its_body(client: TestClient) -> None:
    response = client.get("/model")
    assert response.status_code == 200
    etag = response.headers["etag"]
    assert etag == compute_etag(response.content)
    assert etag.startswith('W/"')
    assert len(etag) == 3 + 32 + 1
    assert response.headers["cache-control"] == "private, no-cache"
    assert client.get("/model").headers["etag"] == etag  # stable


def test_if_none_match_gets_304_with_no_body(client: TestClient) -> None:
    etag = client.get("/model").headers["etag"]
    response = client.get("/model", headers={"if-none-match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"] == "private, no-cache"
    assert "content-length" not in response.headers or response.headers["content-length"] == "0"


def test_lists_star_and_strong_forms_match(client: TestClient) -> None:
    etag = client.get("/model").headers["etag"]
    strong = etag[2:]
    for header in (f'"other", {etag}', "*", strong, f'W/"x",{strong}'):
        assert client.get("/model", headers={"if-none-match": header}).status_code == 304, header
    stale = client.get("/model", headers={"if-none-match": 'W/"0123", "abc"'})
    assert stale.status_code == 200
    assert stale.json()["data"]["count"] == 1


def test_a_changed_read_model_gets_a_new_etag(client: TestClient) -> None:
    old = client.get("/model").headers["etag"]
    assert client.post("/model").status_code == 200
    response = client.get("/model", headers={"if-none-match": old})
    assert response.status_code == 200
    assert response.json()["data"]["count"] == 2
    assert response.headers["etag"] != old
    assert response.headers["etag"] == compute_etag(response.content)


def test_head_is_tagged_like_get(client: TestClient) -> None:
    etag = client.get("/model").headers["etag"]
    head = client.head("/model")
    assert head.status_code == 200
    assert head.headers["etag"] == etag
    assert client.head("/model", headers={"if-none-match": etag}).status_code == 304


@pytest.mark.parametrize("path", ["/missing", "/sse", "/stream", "/text", "/encoded"])
def test_errors_streams_and_other_types_get_none(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"if-none-match": "*"})
    assert response.status_code in (200, 404)
    assert "etag" not in response.headers
    assert response.content  # the body is there, never replaced by a 304


def test_post_gets_none(client: TestClient) -> None:
    response = client.post("/model", headers={"if-none-match": "*"})
    assert response.status_code == 200
    assert "etag" not in response.headers
    assert "cache-control" not in response.headers


def test_the_routes_own_etag_and_cache_control_are_kept(client: TestClient) -> None:
    assert client.get("/tagged", headers={"if-none-match": "*"}).headers["etag"] == '"mine"'
    cached = client.get("/cached")
    assert cached.headers["cache-control"] == "public, max-age=60"
    assert cached.headers["etag"] == compute_etag(cached.content)


def test_if_none_match_parsing() -> None:
    tag = 'W/"abc"'
    assert if_none_match('"abc"', tag)
    assert if_none_match(' "x" , W/"abc" ', tag)
    assert if_none_match("*", tag)
    assert not if_none_match(None, tag)
    assert not if_none_match("", tag)
    assert not if_none_match('"abcd"', tag)


def test_wired_into_create_app_inside_compression(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path), apps=[ExampleModule()])
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/healthz", headers={"accept-encoding": "gzip"})
        assert response.status_code == 200
        etag = response.headers["etag"]  # tagged on the identity body, inside compression
        again = client.get("/healthz", headers={"if-none-match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert "x-request-id" in again.headers  # the outer middleware still ran
        posted = client.post("/things", json={"name": "a", "size": 1})
        assert posted.status_code == 200
        assert "etag" not in posted.headers
        error = client.get("/conflict")
        assert error.status_code == 409
        assert "etag" not in error.headers
