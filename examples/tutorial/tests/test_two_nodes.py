"""Step 9: two nodes on one PostgreSQL database share the log and push each other's writes.

Needs ``LIBRARY_TEST_POSTGRES_URL``: a PostgreSQL URL with an empty schema of its own
(Headwater's suite passes one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from headwater.testing import serve

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
URL = os.environ.get("LIBRARY_TEST_POSTGRES_URL")


# --8<-- [start:two-nodes]
@pytest.mark.skipif(URL is None, reason="set LIBRARY_TEST_POSTGRES_URL")
def test_two_nodes_on_postgresql_share_the_log_and_push_each_others_writes(
    tmp_path: Path,
) -> None:
    assert URL is not None
    postgres_url = URL
    env = dict(
        os.environ,
        PYTHONPATH=str(PROJECT),
        HEADWATER_SECRET_KEY="one-secret-for-every-node",
        HEADWATER_APPS=json.dumps(["library.module:module"]),
        HEADWATER_BOOTSTRAP_ADMIN_EMAIL="root@library.example",
        HEADWATER_BOOTSTRAP_ADMIN_PASSWORD="root-password-1",
        HEADWATER_FAST_PASSWORD_HASHING="true",
        HEADWATER_DISCOVER_PLUGINS="false",
    )
    # Once per deploy, before the nodes: the framework's schema and the app's tables.
    migrate = [str(BIN / "headwater"), "migrate", "--url", postgres_url]
    done = subprocess.run(migrate, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr

    with (
        serve(postgres_url, workdir=tmp_path, env=env) as one,
        serve(postgres_url, workdir=tmp_path, env=env) as two,
        httpx.Client(base_url=one.url, timeout=30) as http,
    ):
        staff = _staff_of_a_new_tenant(http)
        with (
            httpx.Client(timeout=15) as client,
            client.stream(
                "GET",
                f"{two.url}/realtime/sse",
                params={"channel": "library.shelf:all"},
                headers=staff,
            ) as stream,
        ):
            lines = stream.iter_lines()
            next(line for line in lines if line.startswith("event: subscribed"))
            added = http.post(  # written through node one...
                "/library/books", json={"title": "Dune", "author": "Herbert"}, headers=staff
            )
            assert added.status_code == 201, added.text
            for line in lines:  # ...pushed by node two, which learnt of it from the log
                if line.startswith("data:") and '"Dune"' in line:
                    break
            else:
                raise AssertionError("node two pushed nothing")
        shelf = httpx.get(f"{two.url}/library/books", headers=staff).json()["data"]
        assert [book["title"] for book in shelf] == ["Dune"]
        # --8<-- [end:two-nodes]


def _staff_of_a_new_tenant(http: httpx.Client) -> dict[str, str]:
    def token(response: httpx.Response) -> dict[str, str]:
        assert response.status_code in (200, 201), response.text
        return {"authorization": f"Bearer {response.json()['data']['access_token']}"}

    credentials = {"email": "root@library.example", "password": "root-password-1"}
    root = token(http.post("/auth/login", json=credentials))
    tenant = http.post("/admin/tenants", json={"name": "Two nodes"}, headers=root)
    acting = token(
        http.post("/auth/act-as", json={"tenant_id": tenant.json()["data"]["id"]}, headers=root)
    )
    staff = {"email": "staff@two.example", "password": "correct horse"}
    made = http.post("/accounts", json=staff | {"roles": ["staff"]}, headers=acting)
    assert made.status_code == 201, made.text
    return token(http.post("/auth/login", json=staff))
