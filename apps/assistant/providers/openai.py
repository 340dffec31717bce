"""An OpenAI-compatible chat-completions client, streaming (``POST {base}/chat/completions``).

Resilience is the framework's: a circuit breaker (``headwater.resilience``) in front
of the endpoint, so a dead endpoint fails replies at once instead of tying up workers,
and retries with backoff and jitter for what is safe to repeat, i.e. opening the
answer (a refused connection, a 429/502/503/504). A failure mid-answer is not retried
here: it raises, the reply job fails this attempt, and the next attempt (on this node
or another) asks again and records only what comes after the text already recorded.

Why not the framework's ``outbound_client``: its egress guard reads every answer
whole before handing it over (to bound its size), so nothing would stream. The
endpoint is the operator's own setting, never a user's input, so the address check
that guard adds is not what is at stake here; the breaker and retries are kept.

Token accounting: the endpoint's own ``usage`` (asked for with
``stream_options.include_usage``) when it sends one; otherwise words, counted here.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
import orjson

from apps.assistant.config import AssistantConfig
from apps.assistant.providers.base import Provider, Result, count_tokens
from headwater.resilience import BreakerConfig, CircuitBreaker, RetryPolicy

RETRYABLE: Final = frozenset({429, 502, 503, 504})


class ProviderError(Exception):
    """The endpoint did not give a whole streamed answer."""


class _Busy(Exception):
    """A 429/5xx before the answer started: worth another try."""


class OpenAIProvider(Provider):
    name = "openai"
    deterministic = False

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str = "",
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        breaker: BreakerConfig | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        # One timeout for connecting and for each wait between two chunks of the answer.
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(timeout))
        self.retry = retry or RetryPolicy(
            attempts=3, initial=0.2, maximum=2.0, jitter=0.1, retry_on=(httpx.TransportError, _Busy)
        )
        self.breaker = CircuitBreaker(f"assistant:{urlsplit(self.url).netloc}", breaker)

    @classmethod
    def from_config(cls, config: AssistantConfig) -> OpenAIProvider:
        return cls(
            config.openai_url,
            model=config.model,
            api_key=config.openai_key,
            timeout=config.openai_timeout,
        )

    async def _open(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        request = self.client.build_request("POST", self.url, content=body, headers=headers)
        response = await self.client.send(request, stream=True)
        if response.status_code == 200:
            return response
        await response.aclose()
        if response.status_code in RETRYABLE:
            raise _Busy(f"the endpoint answered {response.status_code}")
        raise ProviderError(f"the endpoint answered {response.status_code}")

    async def stream(
        self, messages: Sequence[dict[str, str]], result: Result
    ) -> AsyncIterator[str]:
        body = orjson.dumps(
            {
                "model": self.model,
                "messages": list(messages),
                "stream": True,
                "stream_options": {"include_usage": True},
            }
        )
        headers = {
            "accept": "text/event-stream",
            "content-type": "application/json",
            # The same key on every try of one request, for endpoints that deduplicate.
            "idempotency-key": "assistant-" + hashlib.sha256(body).hexdigest()[:32],
        }
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        try:
            response = await self.retry.call(
                lambda: self.breaker.call(lambda: self._open(body, headers))
            )
        except (_Busy, httpx.TransportError) as exc:
            raise ProviderError(f"the endpoint could not be reached: {exc}") from exc
        text, usage, done = "", None, False
        try:
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    done = True
                    break
                chunk: dict[str, Any] = orjson.loads(payload)
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or ():
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        text += delta
                        yield delta
        except httpx.TransportError as exc:
            self.breaker.record_failure()
            raise ProviderError(f"the answer was cut: {exc}") from exc
        finally:
            await response.aclose()
        if not done:
            # A connection cut mid-answer can look like a clean end of the body: without
            # the terminator the answer is not whole, and must not be recorded as such.
            raise ProviderError("the stream ended before [DONE]")
        if usage is not None:
            result.prompt_tokens = int(usage.get("prompt_tokens", 0))
            result.completion_tokens = int(usage.get("completion_tokens", 0))
        else:
            result.prompt_tokens = sum(count_tokens(m["content"]) for m in messages)
            result.completion_tokens = count_tokens(text)

    async def close(self) -> None:
        await self.client.aclose()
