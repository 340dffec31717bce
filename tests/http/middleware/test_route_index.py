"""The route index picks the route the router would pick, and leaves the rest to it."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse
from starlette.routing import Mount

from headwater.http.middleware._route_index import RouteIndex, install_route_index


def build(indexed: bool) -> FastAPI:
    app = FastAPI()
    router = APIRouter()

    # Declared in an order where a parameter route sits between literal ones, so the
    # index must keep the router's order across both groups.
    @router.get("/items/special")
    async def special() -> str:
        return "special"

    @router.get("/{section}/special")
    async def section_special(section: str) -> str:
        return f"section:{section}"

    @router.get("/items/{item_id}")
    async def item(item_id: str) -> str:
        return f"item:{item_id}"

    @router.post("/orders")
    async def order() -> str:
        return "order"

    @router.get("/orders/")
    async def orders_slash() -> str:
        return "orders-slash"

    @router.get("/")
    async def root() -> str:
        return "root"

    app.router.routes.extend(router.routes)
    app.router.routes.append(
        Mount("/static", app=PlainTextResponse("static", media_type="text/plain"))
    )
    if indexed:
        install_route_index(app)
        assert isinstance(app.router.middleware_stack, RouteIndex)
    return app


REQUESTS = [
    ("GET", "/items/special"),
    ("GET", "/other/special"),
    ("GET", "/items/42"),
    ("GET", "/"),
    ("POST", "/orders"),
    ("GET", "/orders"),  # a 405 or a redirect: the router decides
    ("GET", "/orders/"),
    ("DELETE", "/items/42"),  # 405
    ("GET", "/nowhere/at/all"),  # 404
    ("GET", "/static/file.txt"),
    ("GET", "/items/special/"),  # trailing-slash redirect
]


@pytest.mark.parametrize(("method", "path"), REQUESTS)
def test_every_request_gets_the_answer_the_router_gives(method: str, path: str) -> None:
    with TestClient(build(True)) as fast, TestClient(build(False)) as plain:
        ours = fast.request(method, path, follow_redirects=False)
        theirs = plain.request(method, path, follow_redirects=False)
    assert (ours.status_code, ours.text) == (theirs.status_code, theirs.text)
    assert ours.headers.get("location") == theirs.headers.get("location")


def test_routes_added_after_start_are_found() -> None:
    app = build(True)
    with TestClient(app) as client:
        assert client.get("/late").status_code == 404

        @app.get("/late")
        async def late() -> str:
            return "late"

        assert client.get("/late").json() == "late"


def test_candidates_skip_routes_whose_first_segment_cannot_match() -> None:
    app = build(True)
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    paths = [getattr(route, "path", None) for route in index.candidates("/items/7")]
    assert "/orders" not in paths
    assert paths.index("/items/special") < paths.index("/{section}/special")
    assert paths.index("/{section}/special") < paths.index("/items/{item_id}")
