"""The OpenAI-compatible provider against a real HTTP server on loopback that speaks the
streaming chat-completions protocol (``data: {...}`` lines, ``data: [DONE]``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from apps.assistant.budgets import Budgets
from apps.assistant.domain.replies import REPLY_CHUNK, REPLY_COMPLETED, reply_stream
from apps.assistant.generator import ReplyJob
from apps.assistant.projections import PROJECTIONS
from apps.assistant.providers.base import Result
from apps.assistant.providers.openai import OpenAIProvider, ProviderError
from apps.assistant.service import Assistant
from headwater import EventStore, create_event_store
from headwater.errors import CircuitOpen
from headwater.projections import attach_inline
from headwater.testing._server import free_port
from tests.apps.assistant.test_generator import TENANT, USER, _job

pytestmark = pytest.mark.anyio
WORDS = ["Event ", "logs ", "keep ", "every ", "reply."]


@dataclass
class Endpoint:
    """What the fake model does: fail the first ``fail`` requests with 503, drop the
    connection after ``drop_after`` chunks (once), and record what it was sent."""

    fail: int = 0
    drop_after: int | None = None
    usage: bool = True
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    async def completions(self, request: Request) -> Response:
        self.requests.append(orjson.loads(await request.body()))
        self.headers.append(dict(request.headers))
        if self.fail > 0:
            self.fail -= 1
            return Response("busy", status_code=503)
        drop, self.drop_after = self.drop_after, None

        async def body() -> AsyncIterator[bytes]:
            for n, word in enumerate(WORDS):
                if drop is not None and n == drop:
                    raise ConnectionResetError("the model server went away")
                chunk = {"choices": [{"index": 0, "delta": {"content": word}}]}
                yield b"data: " + orjson.dumps(chunk) + b"\n\n"
                await asyncio.sleep(0.01)
            if self.usage:
                tail = {"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 5}}
                yield b"data: " + orjson.dumps(tail) + b"\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(body(), media_type="text/event-stream")


@contextlib.asynccontextmanager
async def running(endpoint: Endpoint) -> AsyncIterator[str]:
    app = Starlette(routes=[Route("/v1/chat/completions", endpoint.completions, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        await task


async def _collect(provider: OpenAIProvider, result: Result) -> str:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    return "".join([piece async for piece in provider.stream(messages, result)])


async def test_a_streamed_answer_with_the_endpoints_usage() -> None:
    endpoint = Endpoint()
    async with running(endpoint) as url:
        provider = OpenAIProvider(url, model="m-1", api_key="k-1")
        result = Result()
        assert await _collect(provider, result) == "".join(WORDS)
        await provider.close()
    assert result.usage() == {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}
    sent = endpoint.requests[0]
    assert sent["model"] == "m-1"
    assert sent["stream"] is True
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert endpoint.headers[0]["authorization"] == "Bearer k-1"


async def test_without_usage_tokens_are_counted_here() -> None:
    async with running(Endpoint(usage=False)) as url:
        provider = OpenAIProvider(url, model="m")
        result = Result()
        await _collect(provider, result)
        await provider.close()
    assert result.usage() == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}


async def test_a_busy_endpoint_is_retried_then_answers() -> None:
    endpoint = Endpoint(fail=2)
    async with running(endpoint) as url:
        provider = OpenAIProvider(url, model="m")
        assert await _collect(provider, Result()) == "".join(WORDS)
        await provider.close()
    assert len(endpoint.requests) == 3
    keys = {h["idempotency-key"] for h in endpoint.headers}
    assert len(keys) == 1  # one request, retried: the same key each time


async def test_a_dead_endpoint_opens_the_breaker() -> None:
    endpoint = Endpoint(fail=1000)
    async with running(endpoint) as url:
        provider = OpenAIProvider(url, model="m")
        with pytest.raises(ProviderError):  # 3 tries, all 503
            await _collect(provider, Result())
        with pytest.raises(CircuitOpen):  # the fifth failure opens it mid-retries
            await _collect(provider, Result())
        with pytest.raises(CircuitOpen):  # and now nothing is sent at all
            await _collect(provider, Result())
        await provider.close()
    assert len(endpoint.requests) == 5


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EventStore]:
    async with await create_event_store(f"sqlite:///{tmp_path / 'events.db'}") as opened:
        await attach_inline(opened, PROJECTIONS)
        yield opened


async def test_a_reply_dropped_mid_answer_is_finished_by_the_next_attempt(
    store: EventStore,
) -> None:
    service = Assistant(store, Budgets(user=10**9, tenant=10**9))
    thread_id = await service.create_thread(TENANT, USER, "t")
    reply_id = await service.post(TENANT, USER, thread_id, [{"role": "user", "content": "Hi"}])
    payload = {"reply_id": reply_id, "thread_id": thread_id, "user_id": USER}
    async with running(Endpoint(drop_after=3)) as url:
        provider = OpenAIProvider(url, model="m")
        job = ReplyJob(store, provider, coalesce_ms=0)
        with pytest.raises(ProviderError):
            await job(_job(payload, attempt=1))
        await job(_job(payload, attempt=2))
        await provider.close()
    events = [e async for e in store.read_stream(reply_stream(reply_id), tenant_id=TENANT)]
    chunks = "".join(e.data["text"] for e in events if e.type == REPLY_CHUNK)
    assert chunks == "".join(WORDS)
    assert events[-1].type == REPLY_COMPLETED
    assert events[-1].data["usage"]["total_tokens"] == 16
    budget = await service.budgets.status(store, TENANT, USER)
    assert budget["user"]["used"] == 16
