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


class Dropped(Exception):
    """The test cut this client's connection (a network drop, a closed laptop)."""


class Follower:
    """A client following one reply across nodes, as a browser tab does.

    It keeps the seq of the last event it got and, on any break (node gone, connection
    dropped, asked to switch), reconnects to another node with ``after`` set to it. A
    reload starts over from the thread's transcript (its text so far and seq), as the
    page does. Every event received since the last reload is kept, in order, so a test
    can count gaps and duplicates in what the user saw."""

    def __init__(self, bases: list[str], user: dict[str, str], reply_id: str) -> None:
        self.bases = bases
        self.user = user
        self.reply_id = reply_id
        self.received: list[dict[str, Any]] = []
        #: What the last reload showed: the text and seq the transcript gave.
        self.base_text = ""
        self.base_seq = 0
        self.base_status = "requested"
        self.node = 0
        self.reconnects = 0
        self.reloads = 0
        #: Set from another thread: cut the connection at the next frame.
        self.drop = False

    @property
    def last(self) -> int:
        return int(self.received[-1]["seq"]) if self.received else self.base_seq

    @property
    def status(self) -> str:
        if not self.received:
            return self.base_status
        return str(self.received[-1]["kind"])

    @property
    def ended(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")

    @property
    def text(self) -> str:
        return self.base_text + "".join(e["text"] for e in self.received if e["kind"] == "chunk")

    def read(self, *, max_events: int | None = None, timeout: float = 120) -> None:
        """Read until the reply ends (or ``max_events`` more arrived), switching nodes
        whenever a connection breaks."""
        deadline = time.monotonic() + timeout
        goal = None if max_events is None else len(self.received) + max_events
        while not self.ended and (goal is None or len(self.received) < goal):
            assert time.monotonic() < deadline, f"reply {self.reply_id} did not end"
            base = self.bases[self.node % len(self.bases)]
            try:
                self._read_from(base, goal)
            except (httpx.HTTPError, OSError, Dropped):
                self.switch()
                time.sleep(0.05)

    def switch(self) -> None:
        self.node += 1
        self.reconnects += 1

    def reload(self, thread_id: str) -> None:
        """What the page does on load: the transcript, then the stream after its seq."""
        for attempt in range(len(self.bases) * 20):
            base = self.bases[(self.node + attempt) % len(self.bases)]
            try:
                got = httpx.get(
                    f"{base}/assistant/threads/{thread_id}", headers=self.user, timeout=10
                )
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            if got.status_code != 200:
                time.sleep(0.1)
                continue
            message = next(
                m for m in got.json()["data"]["messages"] if m.get("reply_id") == self.reply_id
            )
            # The log is at least as far as anything this tab was sent before.
            assert message["content"].startswith(self.text), (message["content"], self.text)
            assert message["seq"] >= self.last
            self.base_text, self.base_seq = message["content"], message["seq"]
            self.base_status = message["status"]
            self.received = []
            self.reloads += 1
            return
        raise AssertionError("no node answered the reload")

    def _read_from(self, base: str, goal: int | None) -> None:
        url = f"{base}/assistant/replies/{self.reply_id}/events"
        timeout = httpx.Timeout(10.0, read=20.0)
        with httpx.stream(
            "GET", url, params={"after": self.last}, headers=self.user, timeout=timeout
        ) as got:
            if got.status_code != 200:
                raise httpx.HTTPError(f"{got.status_code}")
            buffer = ""
            for text in got.iter_text():
                buffer += text
                while "\n\n" in buffer:
                    frame, buffer = buffer.split("\n\n", 1)
                    self.received.extend(parse_sse(frame + "\n\n"))
                    if self.ended or (goal is not None and len(self.received) >= goal):
                        return
                    if self.drop:
                        self.drop = False
                        raise Dropped
