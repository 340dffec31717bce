"""schemathesis against the OpenAPI document: no 5xx and no response outside the schema.

The full app (core modules, security with a bootstrap platform admin, QR Event and
FormEase) is built in process; the document is ``app.openapi()`` itself, and every
operation in it is fuzzed through the ASGI app as a signed-in staff member and as the
tenant admin of a real tenant (made by the bootstrap platform admin), so the
authenticated routes, the admin ones included, run their handlers rather than stop
at 401 or 403.

Bounded for CI: a few examples per operation, derandomized (the same cases every
run), no example database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import urllib3
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from requests.structures import CaseInsensitiveDict
from schemathesis import GenerationMode
from schemathesis.checks import (  # registered checks, resolved by name
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from apps.formease.module import FormEaseModule
from apps.qrevent.module import QrEventModule
from headwater.app import create_app
from headwater.http._security import SecurityModule
from headwater.settings import Settings
from tests.security.support import (
    SECRET,
    create_tenant,
    login,
    root_headers,
    security_config,
)

#: Streaming endpoints, left out: ``/realtime/ws`` is a WebSocket upgrade (plain HTTP
#: only ever gets its 426), ``/realtime/sse`` and the submission exports stream
#: without end or in chunks that the fuzzer's client would read until it times out;
#: each has its own tests (``tests/realtime``, ``tests/apps/formease/test_exports.py``).
STREAMING = ("/realtime/sse", "/realtime/ws", "/formease/submissions/export")

#: The checks the issue asks for: no 5xx, and every response inside the document.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

#: Calls after which the caller's tokens may be gone: sign in again.
SIGN_OUT = ("/auth/logout", "/auth/logout-all", "/auth/session/logout", "/auth/password")


BASE_URL = "http://testserver"


class InProcessAdapter(requests.adapters.BaseAdapter):
    """schemathesis sends through ``requests``; this hands each request to one
    Starlette ``TestClient``, so every case runs in the app's one lifespan.

    (schemathesis' own ASGI client restarts the lifespan around every pytest test,
    from its plugin's teardown: a full runtime start and stop per operation.)
    """

    def __init__(self, client: TestClient) -> None:
        super().__init__()
        self.client = client

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        assert body is None or isinstance(body, bytes)  # schemathesis sends no streams
        answer = self.client.request(
            str(request.method),
            str(request.url),
            headers={
                name: value if isinstance(value, str) else value.decode("latin-1")
                for name, value in request.headers.items()
            },
            content=body or b"",
        )
        headers = list(answer.headers.multi_items())
        response = requests.Response()
        response.status_code = answer.status_code
        response.reason = answer.reason_phrase
        response.headers = CaseInsensitiveDict(answer.headers)
        response.raw = urllib3.HTTPResponse(
            body=b"", headers=urllib3.HTTPHeaderDict(headers), status=answer.status_code, version=11
        )
        response._content = answer.content  # already decoded by the test client
        response.encoding = answer.encoding
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        pass


class World:
    """The app's client, a ``requests`` session onto it, and signed-in members of a
    real tenant."""

    def __init__(self, client: TestClient, emails: dict[str, str]) -> None:
        self.client = client
        self.session = requests.Session()
        self.session.mount(BASE_URL, InProcessAdapter(client))
        self.emails = emails
        self.headers: dict[str, dict[str, str]] = {}
        for role in emails:
            self.sign_in(role)

    def sign_in(self, role: str) -> None:
        token = login(self.client, self.emails[role])["access_token"]
        self.headers[role] = {"authorization": f"Bearer {token}"}


def build_app(tmp_path: Path) -> FastAPI:
    app_settings = Settings(
        rate_limits=False,
        database_url=f"sqlite:///{tmp_path / 'fuzz.db'}",
        data_dir=tmp_path,
        secret_key=SECRET,  # type: ignore[arg-type]
        auto_migrate=True,
        hsts=False,
    )
    return create_app(
        app_settings,
        apps=[QrEventModule(), FormEaseModule()],
        plugins=[SecurityModule(security_config())],
    )


# The document, at collection, so each operation is a test of its own. Building the app
# touches nothing on disk (only its lifespan would, and this one never starts); the
# app that serves the cases is built per run in ``tmp_path`` below.
SCHEMA = schemathesis.openapi.from_dict(build_app(Path("never-opened")).openapi())
OPERATIONS = {
    result.ok().label: result.ok()
    for result in SCHEMA.get_all_operations()
    if isinstance(result, Ok) and not result.ok().path.startswith(STREAMING)
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    app = build_app(tmp_path_factory.mktemp("fuzz"))
    assert app.openapi() == SCHEMA.raw_schema  # the document fuzzed is this app's
    with TestClient(app, raise_server_exceptions=False) as client:
        tenant = create_tenant(client, root_headers(client), "Fuzz Corp")
        yield World(client, {"staff": tenant.staff_email, "tenant_admin": tenant.admin_email})


def test_every_operation_but_the_streams_is_fuzzed() -> None:
    invalid = [r.err() for r in SCHEMA.get_all_operations() if not isinstance(r, Ok)]
    assert not invalid  # the document itself is valid: no operation is left out for it
    assert len(OPERATIONS) >= 80
    assert not [label for label in OPERATIONS if "/realtime/" in label or "export" in label]


@pytest.mark.parametrize("label", sorted(OPERATIONS))
@pytest.mark.parametrize("role", ["staff", "tenant_admin"])
def test_no_server_error_and_every_response_in_the_schema(
    label: str, role: str, world: World
) -> None:
    operation = OPERATIONS[label]
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )

    @given(case=cases)
    @settings(
        max_examples=15,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failure is kept
    )
    def run(case: Any) -> None:
        try:
            case.call_and_validate(
                base_url=BASE_URL,
                session=world.session,
                headers=world.headers[role],
                checks=CHECKS,
            )
        finally:
            # A cookie a case was given (a dashboard session) must not follow into the next.
            world.client.cookies.clear()
            if case.path in SIGN_OUT:
                world.sign_in(role)

    run()
