"""Small helpers over the assistant's HTTP API, shared by its tests."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx


def data(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


def ask(http: httpx.Client, user: dict[str, str], question: str) -> tuple[str, str]:
    """A new thread with one question; (thread_id, reply_id)."""
    body = {"title": question[:40], "messages": [{"role": "user", "content": question}]}
    made = data(http.post("/assistant/threads", json=body, headers=user), 201)
    return made["thread_id"], made["reply"]["reply_id"]


def parse_sse(text: str) -> list[dict[str, Any]]:
    """The ``data`` of each frame that has an ``id`` (reply events), in order."""
    events = []
    for frame in text.split("\n\n"):
        lines = frame.split("\n")
        if not any(line.startswith("id: ") for line in lines):
            continue
        payload = "\n".join(line[6:] for line in lines if line.startswith("data: "))
        events.append(json.loads(payload))
    return events


def stream(
    http: httpx.Client, user: dict[str, str], reply_id: str, after: int = 0, **kw: Any
) -> list[dict[str, Any]]:
    """Read the reply's SSE body to its end (after its terminal event)."""
    url = f"/assistant/replies/{reply_id}/events"
    with http.stream("GET", url, params={"after": after}, headers=user, timeout=60, **kw) as got:
        assert got.status_code == 200, got.read()
        return parse_sse(got.read().decode())


def wait_finished(
    http: httpx.Client, user: dict[str, str], reply_id: str, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        reply: dict[str, Any] = data(http.get(f"/assistant/replies/{reply_id}", headers=user))
        if reply["status"] in ("completed", "failed", "cancelled"):
            return reply
        assert time.monotonic() < deadline, reply
        time.sleep(0.05)


def check_sequence(events: list[dict[str, Any]], after: int = 0) -> str:
    """Seqs run after+1, after+2, ... with no gap or repeat; the text the chunks make."""
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(after + 1, after + 1 + len(seqs))), seqs
    return "".join(e["text"] for e in events if e["kind"] == "chunk")
