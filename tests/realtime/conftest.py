"""Real ``headwater serve`` processes for the realtime tests, shared per module.

``nodes`` is (writer, reader): the same SQLite node, or two PostgreSQL nodes on one
database, so every test that takes it also proves cross-node delivery on PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from headwater.testing._server import RunningServer, serve

APPS = ["tests.realtime.app:realtime", "tests.realtime.app:appender"]
#: The test tokens are not the security module's: to it every test request is
#: anonymous, whose rate limit (60/min) these tests would exceed. They are not about it.
ENV = {"HEADWATER_RATE_LIMITS": "false"}
Nodes = tuple[RunningServer, RunningServer]


@pytest.fixture(scope="session")
def sqlite_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    workdir = tmp_path_factory.mktemp("realtime-sqlite")
    url = f"sqlite:///{workdir / 'events.db'}"
    with serve(url, workdir=workdir, apps=APPS, env=ENV) as server:
        yield server


def _migrate(url: str) -> None:
    """``headwater migrate``: the event store and every core module's tables, once."""
    subprocess.run(
        [sys.executable, "-m", "headwater.cli._main", "migrate", "--url", url],
        check=True,
        capture_output=True,
        env={**os.environ, "HEADWATER_SECRET_KEY": "test-secret-key"},
    )


@pytest.fixture(scope="session")
def postgres_nodes(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Nodes]:
    schema = f"hw_rt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{postgres_server}?schema={schema}"
    _migrate(url)
    workdir = tmp_path_factory.mktemp("realtime-postgres")
    try:
        with (
            serve(url, workdir=workdir, apps=APPS, env=ENV) as node_a,
            serve(url, workdir=workdir, apps=APPS, env=ENV) as node_b,
        ):
            yield node_a, node_b
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def nodes(request: pytest.FixtureRequest) -> Nodes:
    if request.param == "sqlite":
        node: RunningServer = request.getfixturevalue("sqlite_node")
        return node, node
    pair: Nodes = request.getfixturevalue("postgres_nodes")
    return pair


@pytest.fixture
def node(sqlite_node: RunningServer) -> RunningServer:
    return sqlite_node


def server_log(server: RunningServer) -> str:
    return Path(server.log).read_text("utf-8", errors="replace")
