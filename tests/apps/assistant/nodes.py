"""Several real nodes on one database, each killable with SIGKILL and restartable."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg

from headwater.testing._server import RunningServer, free_port, serve
from tests.apps.assistant.conftest import APPS, ENV, ROOT_EMAIL, ROOT_PASSWORD, Tenant, login
from tests.apps.assistant.conftest import make_tenant as _make_tenant
from tests.conftest import POSTGRES_URL

STARTUP_TIMEOUT = 120.0
#: Starts of one node before giving up (a restart can meet a disruption of its own).
START_ATTEMPTS = 3


class Cluster:
    def __init__(self, url: str, workdir: Path, env: dict[str, str], size: int) -> None:
        self.url = url
        self.workdir = workdir
        self.env = {**ENV, **env}
        self.ports = [free_port() for _ in range(size)]
        self.stacks: list[ExitStack | None] = [None] * size
        self.servers: list[RunningServer | None] = [None] * size

    @property
    def bases(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def start(self, n: int) -> None:
        """Start node ``n``; as an orchestrator would, start it again if it exits while
        starting (a node whose database connection is cut during start-up exits)."""
        for attempt in range(START_ATTEMPTS):
            stack = ExitStack()
            try:
                self.servers[n] = stack.enter_context(
                    serve(
                        self.url,
                        workdir=self.workdir,
                        apps=APPS,
                        env=self.env,
                        port=self.ports[n],
                        # The machine is shared: a node started under load takes a while.
                        startup_timeout=STARTUP_TIMEOUT,
                    )
                )
            except RuntimeError as exc:
                stack.close()
                if "server exited" not in str(exc) or attempt == START_ATTEMPTS - 1:
                    raise
                continue
            self.stacks[n] = stack
            return

    def kill(self, n: int) -> None:
        """SIGKILL: no graceful stop, leases are left to lapse."""
        server = self.servers[n]
        if server is not None and server.process.poll() is None:
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait()
        stack = self.stacks[n]
        if stack is not None:
            stack.close()
        self.servers[n] = self.stacks[n] = None

    def pid(self, n: int) -> int | None:
        server = self.servers[n]
        return None if server is None else server.process.pid

    def node_of_pid(self, pid: int) -> int | None:
        return next((n for n in range(len(self.ports)) if self.pid(n) == pid), None)

    def close(self) -> None:
        for n in range(len(self.ports)):
            stack = self.stacks[n]
            if stack is not None:
                stack.close()

    def tenant(self, name: str) -> Tenant:
        with httpx.Client(base_url=self.bases[0], timeout=60) as http:
            root = login(http, ROOT_EMAIL, ROOT_PASSWORD)
            return _make_tenant(http, root, name)


@contextlib.contextmanager
def cluster(url: str, workdir: Path, size: int, env: dict[str, str]) -> Iterator[Cluster]:
    nodes = Cluster(url, workdir, env, size)
    try:
        for n in range(size):
            nodes.start(n)
        yield nodes
    finally:
        nodes.close()


def lease_owner_pid(url: str, reply_id: str) -> int | None:
    """The pid of the process whose worker holds the reply's job (from the job table)."""
    query = (
        "SELECT lease_owner FROM hw_jobs WHERE name = 'assistant-reply' "
        "AND state = 'running' AND payload LIKE ?"
    )
    pattern = f'%"{reply_id}"%'
    if url.startswith("sqlite"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            row = db.execute(query, (pattern,)).fetchone()
    else:
        base, schema = _split(url)
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            row = conn.execute(
                query.replace("?", "%s").replace("payload LIKE", "payload::text LIKE"),
                (pattern,),
            ).fetchone()
    if row is None or row[0] is None:
        return None
    return int(str(row[0]).split(":")[1])


def _split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return f"postgresql://{parts.netloc}{parts.path}", query["schema"][-1]


def drop_connections(url: str, application: str) -> int:
    """Terminate the PostgreSQL connections of the nodes started with ``application`` as
    their ``application_name`` (and only those: the server is shared)."""
    base, _ = _split(url)
    with psycopg.connect(base, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name LIKE %s AND pid <> pg_backend_pid()",
            (f"{application}%",),
        ).fetchall()
    return len(rows)


__all__ = ["POSTGRES_URL", "Cluster", "cluster", "drop_connections", "lease_owner_pid"]
