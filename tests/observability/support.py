"""An app with the observability module, a few routes, and a stand-in authenticator.

The authenticator is swapped in at start-up, behind the real authentication
middleware, so requests carry a real principal (tenant, actor, tier) without the
account and token set-up the security tests already cover.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

from anyio.from_thread import BlockingPortal
from fastapi import APIRouter, FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from headwater.app import create_app
from headwater.identity._principal import ANONYMOUS, Principal, Role
from headwater.modules import Module
from headwater.observability import ObservabilityModule, get_logger
from headwater.runtime import Runtime
from tests.http.support import make_settings

ALICE = Principal(
    subject="alice",
    tenant_id="tenant-a",
    roles=frozenset({Role.USER}),
    credential="access_token",
    tier="premium",
)


class StandInAuthenticator:
    async def authenticate(
        self,
        headers: Mapping[str, str],
        cookies: Mapping[str, str] | None = None,
        *,
        token: str | None = None,
    ) -> Principal:
        return ALICE if headers.get("authorization") == "Bearer alice" else ANONYMOUS


class RoutesModule(Module):
    name = "observed"

    def routers(self) -> Sequence[APIRouter]:
        router = APIRouter()
        log = get_logger("headwater.tests")

        @router.get("/items/{item_id}")
        async def item(item_id: str) -> dict[str, str]:
            log.info("item.read", item_id=item_id)
            return {"id": item_id}

        @router.get("/fail")
        async def fail() -> None:
            raise RuntimeError("a bug")

        @router.get("/events")
        async def events() -> StreamingResponse:
            async def ticks() -> AsyncIterator[bytes]:
                yield b"data: 1\n\n"

            return StreamingResponse(ticks(), media_type="text/event-stream")

        @router.get("/export")
        async def export() -> StreamingResponse:
            async def rows() -> AsyncIterator[bytes]:
                for n in range(3):
                    await asyncio.sleep(0.05)
                    yield f"{n}\n".encode()

            return StreamingResponse(rows(), media_type="text/csv")

        return [router]

    async def start(self, runtime: Runtime) -> None:
        runtime.authenticator = StandInAuthenticator()


def make_app(tmp_path: Path, module: ObservabilityModule, **settings: object) -> FastAPI:
    return create_app(make_settings(tmp_path, **settings), plugins=[module], apps=[RoutesModule()])


def quiet_module(**options: object) -> ObservabilityModule:
    """No logging set-up of its own and no background sampling: tests drive both."""
    values: dict[str, object] = {"log_level": None, "alert_interval": None}
    values.update(options)
    return ObservabilityModule(**values)  # type: ignore[arg-type]


def portal(client: TestClient) -> BlockingPortal:
    """The client's event loop, to run the app's coroutines from a test (set while open)."""
    assert client.portal is not None
    return client.portal
