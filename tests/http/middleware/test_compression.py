"""Compression by Accept-Encoding: gzip (brotli when installed) on JSON, never on SSE."""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import json
import zlib
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from headwater.http.middleware._compression import CompressionMiddleware, choose_encoding

BIG = {"items": [{"id": n, "name": f"item {n}", "tags": ["a", "b"]} for n in range(500)]}


def make_app(**options: Any) -> FastAPI:
    app = FastAPI()
    app.add_middleware(CompressionMiddleware, **options)

    @app.get("/big")
    async def big() -> JSONResponse:
        return JSONResponse(BIG)

    @app.get("/small")
    async def small() -> JSONResponse:
        return JSONResponse({"ok": True})

    @app.get("/encoded")
    async def encoded() -> Response:
        body = gzip.compress(json.dumps(BIG).encode())
        return Response(body, media_type="application/json", headers={"content-encoding": "gzip"})

    @app.get("/png")
    async def png() -> Response:
        return Response(b"\x89PNG" + b"\x00" * 5000, media_type="image/png")

    @app.get("/text")
    async def text() -> PlainTextResponse:
        return PlainTextResponse("word " * 1000)

    return app


def test_large_json_is_gzipped_when_only_gzip_is_accepted() -> None:
    with TestClient(make_app()) as client:
        response = client.get("/big", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in response.headers["vary"].lower()
    assert int(response.headers["content-length"]) < len(json.dumps(BIG)) / 3
    assert response.json() == BIG


@pytest.mark.skipif(importlib.util.find_spec("brotli") is None, reason="brotli not installed")
def test_brotli_is_preferred_when_installed_and_accepted() -> None:
    import brotli  # type: ignore[import-untyped]

    with TestClient(make_app()) as client:
        response = client.get("/big", headers={"accept-encoding": "gzip, br"})
    assert response.headers["content-encoding"] == "br"
    # httpx may or may not decode br itself; compare what it gives against both forms.
    raw = response.content
    decoded = raw if raw.startswith(b"{") else brotli.decompress(raw)
    assert json.loads(decoded) == BIG


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/small", "gzip"),  # below minimum_size: not worth it
        ("/big", "identity"),  # the client did not ask
        ("/big", "gzip;q=0"),  # the client refused it
        ("/png", "gzip"),  # already compressed content
    ],
)
def test_responses_that_should_not_be_compressed_are_not(path: str, accept: str) -> None:
    with TestClient(make_app()) as client:
        response = client.get(path, headers={"accept-encoding": accept})
    assert "content-encoding" not in response.headers
    assert response.status_code == 200


def test_an_already_encoded_response_is_passed_through_untouched() -> None:
    with TestClient(make_app()) as client:
        response = client.get("/encoded", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.json() == BIG  # decoded once: not double-compressed


def test_text_is_compressed_with_gzip_when_restricted_to_it() -> None:
    with TestClient(make_app(encodings=["gzip"])) as client:
        response = client.get("/text", headers={"accept-encoding": "br, gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.text == "word " * 1000


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("gzip", "gzip"),
        ("br;q=0.5, gzip", "gzip"),
        ("br, gzip", "br"),
        ("*", "br"),
        ("*;q=0, gzip", "gzip"),
        ("identity", None),
        ("GZIP;q=0.1", "gzip"),
        ("gzip;q=bad", None),
    ],
)
def test_choose_encoding_follows_q_values_then_server_preference(
    accept: str, expected: str | None
) -> None:
    assert choose_encoding(accept, ["br", "zstd", "gzip"]) == expected


# --- streaming, driven at the ASGI level so timing is observable --------------------


def http_scope(accept: str = "gzip") -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": "/stream",
        "headers": [(b"accept-encoding", accept.encode())],
    }


async def noop_receive() -> Message:
    return {"type": "http.disconnect"}


def streaming_app(content_type: str, chunks: list[bytes], gates: list[asyncio.Event]) -> Any:
    """Sends each chunk only after its gate opens: the test opens a gate only once the
    previous chunk has come out of the middleware, so any buffering deadlocks."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", content_type.encode())],
            }
        )
        for chunk, gate in zip(chunks, gates, strict=True):
            await gate.wait()
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


async def run_stream(content_type: str, chunks: list[bytes]) -> list[Message]:
    gates = [asyncio.Event() for _ in chunks]
    out: asyncio.Queue[Message] = asyncio.Queue()
    middleware = CompressionMiddleware(streaming_app(content_type, chunks, gates), minimum_size=1)

    async def send(message: Message) -> None:
        await out.put(message)

    task = asyncio.create_task(middleware(http_scope(), noop_receive, send))
    messages = []
    for gate in gates:
        gate.set()
        # Each chunk must come out before the next is even produced.
        while True:
            message = await asyncio.wait_for(out.get(), timeout=2)
            messages.append(message)
            if message["type"] == "http.response.body":
                break
    await asyncio.wait_for(task, timeout=2)
    while not out.empty():
        messages.append(out.get_nowait())
    return messages


@pytest.mark.anyio
async def test_server_sent_events_pass_unbuffered_and_uncompressed() -> None:
    chunks = [b"id: 1\ndata: one\n\n", b"id: 2\ndata: two\n\n", b"id: 3\ndata: three\n\n"]
    messages = await run_stream("text/event-stream; charset=utf-8", chunks)
    start = messages[0]
    assert start["type"] == "http.response.start"
    assert all(name != b"content-encoding" for name, _ in start["headers"])
    bodies = [m["body"] for m in messages if m["type"] == "http.response.body"]
    assert bodies[:3] == chunks


@pytest.mark.anyio
async def test_a_streamed_json_response_is_compressed_chunk_by_chunk() -> None:
    chunks = [json.dumps({"n": n, "pad": "x" * 200}).encode() + b"\n" for n in range(3)]
    messages = await run_stream("application/x-ndjson", chunks)
    headers = dict(messages[0]["headers"])
    assert headers[b"content-encoding"] == b"gzip"
    assert b"content-length" not in headers
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    bodies = [m["body"] for m in messages if m["type"] == "http.response.body"]
    # Every chunk decodes on arrival: the compressor flushed it, nothing was held back.
    for chunk, body in zip(chunks, bodies, strict=False):
        assert decoder.decompress(body) == chunk
    rest = b"".join(bodies[len(chunks) :])
    assert decoder.decompress(rest) + decoder.flush() == b""
    assert decoder.eof


@pytest.mark.anyio
async def test_websocket_and_lifespan_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    middleware = CompressionMiddleware(app)
    await middleware({"type": "websocket", "headers": []}, noop_receive, noop_send)
    await middleware({"type": "lifespan"}, noop_receive, noop_send)
    assert seen == ["websocket", "lifespan"]


async def noop_send(message: Message) -> None:
    pass
