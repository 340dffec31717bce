"""The generated app's tests: a real ``headwater serve`` of it on SQLite (``conftest``)
and, per entity, create and read back, each command, roles, tenancy and typed bodies.

Split from ``builder_render`` (the app's code) to keep each module to one concept.
"""

from __future__ import annotations

from typing import Final

from apps.assistant.builder_spec import AppSpec, FieldSpec, snake

#: A valid value per type, a second one for commands, and one of the wrong type.
SAMPLE: Final = {"str": '"sample"', "int": "7", "float": "1.5", "bool": "True"}
CHANGED: Final = {"str": '"changed"', "int": "8", "float": "2.5", "bool": "False"}
WRONG: Final = {"str": "12345", "int": '"seven"', "float": '"x"', "bool": '"maybe"'}


CONFTEST: Final = '''"""One real ``headwater serve`` of {app} on SQLite, two tenants signed in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from headwater.testing import RunningServer, serve

ROOT = Path(__file__).resolve().parents[1]
ADMIN, ADMIN_PASSWORD = "root@{app}.example", "root-password-1"
PASSWORD = "correct horse battery"
ENV = {{
    "HEADWATER_AUTO_MIGRATE": "true",
    "HEADWATER_RATE_LIMITS": "false",
    "HEADWATER_BOOTSTRAP_ADMIN_EMAIL": ADMIN,
    "HEADWATER_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
    "HEADWATER_FAST_PASSWORD_HASHING": "true",
    "HEADWATER_DISCOVER_PLUGINS": "false",
    "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
}}


def bearer(token: str) -> dict[str, str]:
    return {{"authorization": f"Bearer {{token}}"}}


def login(http: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = http.post("/auth/login", json={{"email": email, "password": password}})
    assert response.status_code == 200, response.text
    return bearer(response.json()["data"]["access_token"])


@dataclass
class Tenant:
    tenant_id: str
    staff: dict[str, str]
    user: dict[str, str]


@dataclass
class World:
    server: RunningServer
    http: httpx.Client
    a: Tenant
    b: Tenant


def make_tenant(http: httpx.Client, root: dict[str, str], name: str) -> Tenant:
    made = http.post("/admin/tenants", json={{"name": name}}, headers=root)
    assert made.status_code == 201, made.text
    tenant_id = made.json()["data"]["id"]
    acting = http.post("/auth/act-as", json={{"tenant_id": tenant_id}}, headers=root)
    as_admin = bearer(acting.json()["data"]["access_token"])
    for role in ("staff", "user"):
        account = {{"email": f"{{role}}@{{name}}.example", "password": PASSWORD, "roles": [role]}}
        created = http.post("/accounts", json=account, headers=as_admin)
        assert created.status_code == 201, created.text
    return Tenant(
        tenant_id, login(http, f"staff@{{name}}.example"), login(http, f"user@{{name}}.example")
    )


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("{app}")
    url = f"sqlite:///{{workdir / 'events.db'}}"
    with (
        serve(url, workdir=workdir, apps=["{app}.module:module"], env=ENV) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        root = login(http, ADMIN, ADMIN_PASSWORD)
        yield World(server, http, make_tenant(http, root, "alpha"), make_tenant(http, root, "beta"))
'''


def _dict(fields: list[FieldSpec], values: dict[str, str]) -> str:
    return "{" + ", ".join(f'"{f.name}": {values[f.type]}' for f in fields) + "}"


def render_tests(spec: AppSpec) -> str:
    app = spec.app
    out = [
        f'"""{app} served for real: each entity created and read back, each command applied,',
        'roles, tenancy and typed bodies checked (generated with the app)."""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any",
        "",
        "from tests.conftest import World",
        "",
        "",
        "def _items(world: World, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:",
        "    response = world.http.get(path, headers=headers)",
        "    assert response.status_code == 200, response.text",
        '    items: list[dict[str, Any]] = response.json()["data"]["items"]',
        "    return items",
        "",
        "",
        "def test_anonymous_callers_are_refused(world: World) -> None:",
        f'    assert world.http.get("/{app}/{snake(spec.entities[0].name)}").status_code == 401',
    ]
    for e in spec.entities:
        s = snake(e.name)
        path, sample = f"/{app}/{s}", _dict(e.fields, SAMPLE)
        out += ["", "", f"def _create_{s}(world: World, staff: dict[str, str]) -> str:"]
        out += [f'    made = world.http.post("{path}", json={sample}, headers=staff)']
        out += ["    assert made.status_code == 201, made.text"]
        out += [f'    return str(made.json()["data"]["{s}_id"])']
        out += ["", "", f"def test_staff_create_a_{s}_and_read_it_back(world: World) -> None:"]
        out += [f"    {s}_id = _create_{s}(world, world.a.staff)"]
        out += [f'    expected = {{"{s}_id": {s}_id, **{sample}}}']
        out += [f'    assert expected in _items(world, "{path}", world.a.user)']
        out += ["", "", f"def test_a_plain_user_may_not_create_a_{s}(world: World) -> None:"]
        out += [f'    refused = world.http.post("{path}", json={sample}, headers=world.a.user)']
        out += ["    assert refused.status_code == 403, refused.text"]
        out += ["", "", f"def test_tenants_see_only_their_own_{s}(world: World) -> None:"]
        out += [f"    {s}_id = _create_{s}(world, world.a.staff)"]
        out += [f'    seen = [i["{s}_id"] for i in _items(world, "{path}", world.b.user)]']
        out += [f"    assert {s}_id not in seen"]
        out += ["", "", f"def test_a_{s}_field_of_the_wrong_type_is_refused(world: World) -> None:"]
        out += [f"    for name, wrong in {_dict(e.fields, WRONG)}.items():"]
        out += [f"        body = {{**{sample}, name: wrong}}"]
        out += [f'        refused = world.http.post("{path}", json=body, headers=world.a.staff)']
        out += ["        assert refused.status_code == 422, (name, refused.text)"]
        for c in e.commands:
            cs, changed = snake(c.name), _dict([f for f in e.fields if f.name in c.sets], CHANGED)
            out += ["", "", f"def test_{s}_{cs}_changes_it(world: World) -> None:"]
            out += [f"    {s}_id = _create_{s}(world, world.a.staff)"]
            out += [f'    url = f"{path}/{{{s}_id}}/{cs}"']
            out += [f"    done = world.http.post(url, json={changed}, headers=world.a.staff)"]
            out += ["    assert done.status_code == 200, done.text"]
            out += [f'    rows = _items(world, "{path}", world.a.user)']
            out += [f'    row = next(i for i in rows if i["{s}_id"] == {s}_id)']
            out += [f"    assert {{**row, **{changed}}} == row"]
            out += ["", "", f"def test_{s}_{cs}_of_a_missing_{s}_is_404(world: World) -> None:"]
            out += [f'    url = "{path}/{app}{s.replace("_", "")}-missing/{cs}"']
            out += [f"    missing = world.http.post(url, json={changed}, headers=world.a.staff)"]
            out += ["    assert missing.status_code == 404, missing.text"]
    return "\n".join(out) + "\n"
