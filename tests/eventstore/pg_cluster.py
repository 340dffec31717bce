"""Throwaway PostgreSQL clusters for the failover tests: a primary, a streaming standby.

Each cluster lives in its own temporary directory, listens on a free loopback port,
and is run by the ``postgres`` user when the tests run as root (PostgreSQL refuses to
run as root). ``pg_ctl stop -m immediate`` is the crash: no shutdown checkpoint, no
goodbye to the standby, exactly what a killed server leaves behind.

Also here: :class:`TcpSwitch`, the "database address" the nodes connect to. It
forwards to one cluster and is switched to another, like a DNS name or a virtual IP
moved by a failover manager; it can also hold every byte back (a link that went
silent), which is how a test makes the standby fall behind on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from headwater.testing._server import free_port


def postgres_bin() -> Path | None:
    """The newest installed server's binaries (Debian's layout), or ``None``."""
    root = Path("/usr/lib/postgresql")
    if not root.is_dir():
        return None
    versions = sorted(
        (p for p in root.iterdir() if (p / "bin" / "initdb").exists()),
        key=lambda p: int(p.name) if p.name.isdigit() else 0,
    )
    return versions[-1] / "bin" if versions else None


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@dataclass
class Cluster:
    bindir: Path
    datadir: Path
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _as_postgres([str(self.bindir / command[0]), *command[1:]]),
            check=check,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def configure(self, **settings: str) -> None:
        with (self.datadir / "postgresql.auto.conf").open("a") as conf:
            for name, value in settings.items():
                conf.write(f"{name} = '{value}'\n")

    def start(self) -> None:
        log = self.datadir.parent / f"{self.datadir.name}.log"
        result = self.run(
            "pg_ctl", "-w", "start", "-D", str(self.datadir), "-l", str(log), check=False
        )
        if result.returncode != 0:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {result.stderr}\n{text}")

    def crash(self) -> None:
        self.run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "stop", check=False)

    def promote(self) -> None:
        self.run("pg_ctl", "-D", str(self.datadir), "-w", "promote")


class ClusterPair:
    """A primary and a standby streaming from it through a :class:`TcpSwitch`."""

    def __init__(self, bindir: Path, root: Path) -> None:
        self.root = root
        self.primary = Cluster(bindir, root / "primary")
        self.standby = Cluster(bindir, root / "standby")

    def create_primary(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        options = ["-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]
        self.primary.run("initdb", *options, "-D", str(self.primary.datadir))
        self.primary.configure(
            listen_addresses="127.0.0.1",
            port=str(self.primary.port),
            unix_socket_directories=str(self.root),
            wal_level="replica",
            max_wal_senders="4",
            # A crash is a process kill, not a power cut: the OS keeps what was written.
            fsync="off",
            full_page_writes="off",
            shared_buffers="32MB",
            max_connections="60",
            wal_sender_timeout="5s",
        )
        self.primary.start()

    def create_standby(self, via_port: int) -> None:
        """``pg_basebackup -R``; the standby streams through ``via_port`` (a switch)."""
        options = [
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-R",
            "-X",
            "stream",
            "--no-sync",
            "--checkpoint=fast",
        ]
        self.primary.run(
            "pg_basebackup", *options, "-p", str(self.primary.port), "-D", str(self.standby.datadir)
        )
        self.standby.configure(
            port=str(self.standby.port),
            primary_conninfo=(
                f"host=127.0.0.1 port={via_port} user=postgres application_name=standby"
            ),
            wal_receiver_timeout="5s",
        )
        self.standby.start()

    def destroy(self) -> None:
        for cluster in (self.primary, self.standby):
            if cluster.datadir.exists():
                cluster.crash()
        shutil.rmtree(self.root, ignore_errors=True)


class TcpSwitch:
    """A loopback TCP forwarder whose target can be switched, or held silent.

    It runs its own event loop on a thread, so that blocking calls in the test
    (``pg_ctl``, starting a node) never stall the bytes it forwards.
    """

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = 0
        self._loop = asyncio.new_event_loop()
        #: Set while bytes flow; cleared, the link is silent (see :meth:`hold`).
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        started.result(timeout=10)

    def hold(self, silent: bool) -> None:
        """Hold back every byte, both ways (``True``), or let them flow again."""
        flowing = self._flowing
        self._loop.call_soon_threadsafe(flowing.clear if silent else flowing.set)

    def switch(self, target: int) -> None:
        """New connections go to ``target``; open ones are cut (they led to the old one)."""
        self._loop.call_soon_threadsafe(self._switch, target)

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def _switch(self, target: int) -> None:
        self.target = target
        for task in list(self._links):
            task.cancel()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._links):
            task.cancel()
        await asyncio.gather(*self._links, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            up_reader, upstream = await asyncio.open_connection("127.0.0.1", self.target)
            await asyncio.gather(self._pipe(reader, upstream), self._pipe(up_reader, writer))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._links.discard(task)
            for end in (writer, upstream):
                if end is not None:
                    with contextlib.suppress(Exception):
                        end.close()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while True:
            data = await source.read(65536)
            if not data:
                sink.close()
                return
            await self._flowing.wait()
            sink.write(data)
            await sink.drain()
