"""The AI Builder served for real: specs refused per field, builds run by ``generate-app``
jobs to completion, the generated app passing its own tests in a subprocess, and a
model endpoint (real HTTP on loopback) that fails: retried to 3 attempts, or dead."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from headwater.testing._server import serve
from tests.apps.assistant.conftest import (
    APPS,
    ENV,
    REPO,
    ROOT_EMAIL,
    ROOT_PASSWORD,
    World,
    login,
    make_tenant,
)
from tests.apps.assistant.support import data

#: Ports of this engineer's range: the loopback model endpoint.
MODEL_PORT = 18901
SPEC: dict[str, Any] = {
    "app": "shop",
    "description": "A small shop.",
    "entities": [
        {
            "name": "Product",
            "fields": [
                {"name": "title", "type": "str"},
                {"name": "price", "type": "float"},
                {"name": "stock", "type": "int"},
                {"name": "listed", "type": "bool"},
            ],
            "commands": [
                {"name": "Reprice", "sets": ["price"]},
                {"name": "Restock", "sets": ["stock", "listed"]},
            ],
        },
        {"name": "OrderLine", "fields": [{"name": "quantity", "type": "int"}]},
    ],
}


def wait_build(
    http: httpx.Client, user: dict[str, str], build_id: str, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        build: dict[str, Any] = data(http.get(f"/assistant/builds/{build_id}", headers=user))
        if build["status"] in ("completed", "failed"):
            return build
        assert time.monotonic() < deadline, build
        time.sleep(0.1)


def test_a_spec_is_refused_per_field_with_a_4xx(world: World) -> None:
    bad = {**SPEC, "app": "not-an-identifier"}
    refused = world.http.post("/assistant/builds", json=bad, headers=world.a.alice)
    assert refused.status_code == 422, refused.text
    body = refused.json()["error"]
    assert body["code"] == "validation_failed"
    locations = [tuple(e["loc"]) for e in body["details"]["errors"]]
    assert ("body", "app") in locations
    too_many = {**SPEC, "entities": [SPEC["entities"][1]] * 9}
    assert (
        world.http.post("/assistant/builds", json=too_many, headers=world.a.alice).status_code
        == 422
    )
    assert world.http.post("/assistant/builds", json=SPEC).status_code == 401


def test_a_build_runs_to_completion_and_is_its_owners_only(world: World) -> None:
    made = data(world.http.post("/assistant/builds", json=SPEC, headers=world.a.alice), 201)
    build_id = made["build_id"]
    build = wait_build(world.http, world.a.alice, build_id)
    assert build["status"] == "completed", build
    assert build["attempts"] == 1
    assert build["max_attempts"] == 3
    assert build["progress"]["done"] == build["progress"]["total"]
    assert "shop/domain.py" in build["files"]
    assert "tests/test_shop.py" in build["files"]
    listed = data(world.http.get("/assistant/builds", headers=world.a.alice))["builds"]
    assert listed[0]["build_id"] == build_id
    assert listed[0]["status"] == "completed"
    # Another user of the tenant, and another tenant, see nothing of it.
    for other in (world.a.bob, world.b.alice):
        assert world.http.get(f"/assistant/builds/{build_id}", headers=other).status_code == 404
        got = world.http.get(f"/assistant/builds/{build_id}/files", headers=other)
        assert got.status_code == 404
        assert data(world.http.get("/assistant/builds", headers=other))["builds"] == []


def test_the_generated_app_passes_its_own_tests(world: World, tmp_path: Path) -> None:
    if world.backend != "sqlite-file":
        pytest.skip("the generated app's tests serve it on SQLite whatever the builder's backend")
    made = data(world.http.post("/assistant/builds", json=SPEC, headers=world.a.alice), 201)
    assert wait_build(world.http, world.a.alice, made["build_id"])["status"] == "completed"
    files = data(
        world.http.get(f"/assistant/builds/{made['build_id']}/files", headers=world.a.alice)
    )
    for item in files["files"]:
        target = tmp_path / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(item["content"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(REPO) / "src"), REPO])}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    passed = re.search(r"(\d+) passed", run.stdout)
    assert passed is not None, run.stdout
    assert int(passed.group(1)) >= 10, run.stdout


class Model:
    """An OpenAI-compatible endpoint: apps named ``flaky*`` are refused (400) twice,
    ``doomed*`` always; every other request streams a two-sentence description."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()

    async def completions(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        app = re.search(r"app named (\w+)", body["messages"][-1]["content"])
        name = app.group(1) if app else ""
        self.requests[name] += 1
        if name.startswith("doomed") or (name.startswith("flaky") and self.requests[name] <= 2):
            return Response("bad request", status_code=400)
        words = ["A shop ", "for products. ", "It keeps orders."]
        lines = [
            b"data: " + orjson.dumps({"choices": [{"index": 0, "delta": {"content": w}}]})
            for w in words
        ]
        text = b"\n\n".join([*lines, b"data: [DONE]"]) + b"\n\n"
        return Response(text, media_type="text/event-stream")


@pytest.fixture(scope="module")
def model() -> Iterator[Model]:
    endpoint = Model()
    app = Starlette(routes=[Route("/v1/chat/completions", endpoint.completions, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=MODEL_PORT, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the model endpoint did not start"
        time.sleep(0.02)
    yield endpoint
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def modelled(model: Model, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A node whose assistant is configured with the loopback model."""
    workdir = tmp_path_factory.mktemp("builder")
    env = {
        **ENV,
        "HEADWATER_ASSISTANT_OPENAI_URL": f"http://127.0.0.1:{MODEL_PORT}/v1",
        "HEADWATER_ASSISTANT_OPENAI_KEY": "test-key",
    }
    url = f"sqlite:///{workdir / 'events.db'}"
    with (
        serve(url, workdir=workdir, apps=APPS, env=env) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        root = login(http, ROOT_EMAIL, ROOT_PASSWORD)
        yield World(
            server,
            http,
            make_tenant(http, root, "Alpha"),
            make_tenant(http, root, "Beta"),
            "sqlite-file",
            url,
            workdir,
        )


def test_a_model_describes_the_build_and_its_failures_are_retried(
    modelled: World, model: Model
) -> None:
    spec = {**SPEC, "app": "flaky_shop"}
    made = data(modelled.http.post("/assistant/builds", json=spec, headers=modelled.a.alice), 201)
    build = wait_build(modelled.http, modelled.a.alice, made["build_id"])
    assert build["status"] == "completed", build
    assert build["attempts"] == 3
    assert model.requests["flaky_shop"] == 3
    assert build["description"] == "A shop for products. It keeps orders."
    files = modelled.http.get(
        f"/assistant/builds/{made['build_id']}/files", headers=modelled.a.alice
    )
    readme = next(f for f in data(files)["files"] if f["path"] == "README.md")
    assert "A shop for products." in readme["content"]


def test_a_build_whose_model_always_fails_is_a_dead_letter_on_admin(
    modelled: World, model: Model
) -> None:
    spec = {**SPEC, "app": "doomed_shop"}
    made = data(modelled.http.post("/assistant/builds", json=spec, headers=modelled.a.alice), 201)
    build = wait_build(modelled.http, modelled.a.alice, made["build_id"])
    assert build["status"] == "failed", build
    assert build["attempts"] == 3
    assert "ProviderError" in build["error"]
    assert model.requests["doomed_shop"] == 3
    root = login(modelled.http, ROOT_EMAIL, ROOT_PASSWORD)
    deadline = time.monotonic() + 15
    while True:
        listed = data(modelled.http.get("/admin/api/jobs?state=dead", headers=root))
        dead = [j for j in listed if j["name"] == "generate-app"]
        if dead:
            break
        assert time.monotonic() < deadline, listed
        time.sleep(0.1)
    assert dead[0]["attempts"] == 3
    assert dead[0]["max_attempts"] == 3
    assert dead[0]["last_error"]
    # The files of a failed build are not there to read.
    files = modelled.http.get(
        f"/assistant/builds/{made['build_id']}/files", headers=modelled.a.alice
    )
    assert files.status_code == 404
    assert files.json()["error"]["code"] == "build_not_ready"
