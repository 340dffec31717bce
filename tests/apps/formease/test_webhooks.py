"""A loopback receiver that fails twice then succeeds gets the submission once, signed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from apps.formease.webhooks import verify
from tests.apps.formease.conftest import World
from tests.apps.formease.support import data, new_user, open_form, published_form, submit

SECRET = "whsec-0123456789abcdef"


class Receiver:
    """Answers 503 to the first ``failures`` requests, then 200; keeps what it saw."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts: list[dict[str, Any]] = []
        self.accepted: dict[str, dict[str, Any]] = {}  # by idempotency key: kept once
        self.lock = threading.Lock()

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.attempts.append({"headers": headers, "body": body})
            if len(self.attempts) <= self.failures:
                return 503
            self.accepted.setdefault(headers["idempotency-key"], {"headers": headers, "body": body})
            return 200


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver(failures=2)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            status = state.handle({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_a_failing_receiver_gets_the_submission_once_with_a_valid_signature(
    world: World, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    http, a = world.http, world.a
    user = new_user(http, a, "premium")
    form = published_form(http, a, user)
    hook = {"url": url, "secret": SECRET}
    data(http.put(f"/formease/forms/{form}/webhook", json=hook, headers=a.staff))
    sent = data(submit(http, a, open_form(http, a, form)["token"], {"name": "Ada"}), 201)
    deadline = time.monotonic() + 20
    while not state.accepted and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # anything after the success would be a duplicate: give it time to show
    assert len(state.attempts) == 3
    assert len(state.accepted) == 1
    (delivery,) = state.accepted.values()
    headers, body = delivery["headers"], delivery["body"]
    assert verify(SECRET, headers["x-formease-signature"], body)
    assert not verify("another-secret-0000", headers["x-formease-signature"], body)
    assert not verify(SECRET, headers["x-formease-signature"], body + b" ")
    payload = orjson.loads(body)
    assert payload["type"] == "submission.received"
    assert payload["data"]["submission_id"] == sent["submission_id"]
    assert {a["headers"]["idempotency-key"] for a in state.attempts} == {payload["id"]}
    # The delivery was a durable job of tenant A: the dashboard lists it, B's does not.
    jobs = data(http.get("/admin/api/jobs?state=succeeded", headers=a.admin))["jobs"]
    (job,) = [j for j in jobs if j["id"] == payload["id"]]
    assert job["name"] == "formease.webhook"
    assert job["attempts"] >= 2  # a failed attempt, retried by the queue
    theirs = data(http.get("/admin/api/jobs?state=succeeded", headers=world.b.admin))["jobs"]
    assert payload["id"] not in {j["id"] for j in theirs}
    # Removed: the next submission is not posted.
    data(http.delete(f"/formease/forms/{form}/webhook", headers=a.staff))
    data(submit(http, a, open_form(http, a, form)["token"], {"name": "Bo"}), 201)
    time.sleep(1.0)
    assert len(state.attempts) == 3
    bad = http.put(
        f"/formease/forms/{form}/webhook",
        json={"url": "ftp://example.org/hook", "secret": SECRET},
        headers=a.staff,
    )
    assert bad.status_code == 400
