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

    server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)  # the allow-listed address
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.2:{server.server_address[1]}/hook"
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
    jobs = data(http.get("/admin/api/jobs?state=succeeded", headers=a.admin))
    (job,) = [j for j in jobs if j["id"] == payload["id"]]
    assert job["name"] == "formease.webhook"
    assert job["attempts"] >= 2  # a failed attempt, retried by the queue
    theirs = data(http.get("/admin/api/jobs?state=succeeded", headers=world.b.admin))
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


class Target(ThreadingHTTPServer):
    """A plain HTTP server that records the paths it is asked for."""

    def __init__(self, host: str, answer: tuple[int, dict[str, str]]) -> None:
        self.hits: list[str] = []
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                target.hits.append(self.path)
                self.send_response(answer[0])
                for name, value in answer[1].items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__((host, 0), Handler)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def test_a_tenant_cannot_make_the_server_call_loopback_private_or_link_local(
    world: World,
) -> None:
    http, b = world.http, world.b
    inside = Target("127.0.0.1", (200, {}))  # an internal service on loopback
    inside_url = f"http://127.0.0.1:{inside.server_address[1]}/internal"
    # Allowed, but answers with a redirect to the internal service.
    bounce = Target("127.0.0.2", (307, {"location": inside_url}))
    targets = [
        inside_url,
        f"http://localhost:{inside.server_address[1]}/internal",
        f"http://[::1]:{inside.server_address[1]}/internal",
        "http://10.0.0.1/hook",
        "http://192.168.0.1/hook",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        f"http://127.0.0.2:{bounce.server_address[1]}/hook",
    ]
    try:
        user = new_user(http, b, "premium")
        for url in targets:
            form = published_form(http, b, user)
            hook = {"url": url, "secret": SECRET}
            data(http.put(f"/formease/forms/{form}/webhook", json=hook, headers=b.staff))
            data(submit(http, b, open_form(http, b, form)["token"], {"name": "Eve"}), 201)
        deadline = time.monotonic() + 30
        errors: list[str] = []
        while time.monotonic() < deadline:
            jobs = data(http.get("/admin/api/jobs", headers=b.admin))
            errors = [j["last_error"] for j in jobs if j["name"] == "formease.webhook"]
            if len(errors) == len(targets) and all(errors):
                break
            time.sleep(0.2)
    finally:
        inside.stop()
        bounce.stop()
    assert inside.hits == []  # nothing reached the internal service, by any route
    assert len(bounce.hits) >= 1  # the allowed hop was called; its redirect was not followed
    # What the tenant sees: a short reason, never a traceback, a path or a body.
    assert sorted(errors) == ["address not allowed"] * len(targets)
