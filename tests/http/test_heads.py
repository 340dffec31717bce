"""Request heads are bounded in size, count and time, on a real ``headwater serve``."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from headwater.testing._server import RunningServer, serve

LIMITS = {
    "HEADWATER_MAX_HEAD_BYTES": str(32 * 1024),
    "HEADWATER_MAX_HEADERS": "50",
    "HEADWATER_HEAD_TIMEOUT": "1.5",
    "HEADWATER_KEEPALIVE_TIMEOUT": "1",
    "HEADWATER_RATE_LIMITS": "false",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    workdir: Path = tmp_path_factory.mktemp("heads")
    with serve(f"sqlite:///{workdir / 'events.db'}", workdir=workdir, env=LIMITS) as running:
        yield running


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def connect(server: RunningServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def answer_of(sock: socket.socket, within: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(within)
    got = b""
    try:
        while chunk := sock.recv(65536):
            got += chunk
    except ConnectionResetError:
        pass
    return got


def test_oversized_heads_are_refused_and_leave_memory_flat(server: RunningServer) -> None:
    for _ in range(3):  # warm up: the first requests load what a request needs
        httpx.get(f"{server.url}/healthz")
    start = rss_mb(server.process.pid)
    answers: list[bytes] = []

    def flood() -> None:
        sock = connect(server)
        chunk = b"a" * 65536
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
            for _ in range(128):  # 8 MiB of one header value, the head never ended
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed: what should happen
        answers.append(answer_of(sock))
        sock.close()

    threads = [threading.Thread(target=flood) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    grown = rss_mb(server.process.pid) - start
    assert grown < 20, f"RSS grew by {grown:.1f} MB"
    assert len(answers) == 8
    for answer in answers:
        # A reset may eat the answer on the way; what did arrive is the 431.
        assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert any(a.startswith(b"HTTP/1.1 431") for a in answers)
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_too_many_header_fields_are_refused_with_431(server: RunningServer) -> None:
    fields = b"".join(b"X-F%d: 1\r\n" % n for n in range(60))
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        answer = answer_of(sock)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert b"too_many_headers" in answer


def test_slow_and_silent_heads_are_closed_after_the_head_timeout(server: RunningServer) -> None:
    started = time.monotonic()
    slow = [connect(server) for _ in range(20)]
    silent = [connect(server) for _ in range(5)]
    for sock in slow:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    for sock in slow[:10]:
        time.sleep(0.05)
        sock.sendall(b"X-Drip: 1\r\n")  # trickling bytes does not extend the deadline
    answers = [answer_of(sock, within=8) for sock in slow + silent]
    elapsed = time.monotonic() - started
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers), answers
    assert elapsed < 6, elapsed
    for sock in slow + silent:
        sock.close()


def test_an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout(
    server: RunningServer,
) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        # The whole answer first: its head and body may come in separate reads.
        first = sock.recv(65536)
        head, _, body = first.partition(b"\r\n\r\n")
        declared = re.search(rb"(?i)content-length: *(\d+)", head)
        assert declared is not None
        length = int(declared.group(1))
        while len(body) < length:
            body += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        assert len(body) == length
        started = time.monotonic()
        rest = answer_of(sock, within=8)
    assert rest == b""
    assert time.monotonic() - started < 3


def test_a_large_body_is_not_counted_as_head(server: RunningServer) -> None:
    body = b'{"email": "' + b"a" * 200_000 + b'", "password": "x"}'
    head = (
        b"POST /auth/login HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
    )
    with connect(server) as sock:
        sock.sendall(head + body)  # one write: head and body arrive in the same chunks
        answer = answer_of(sock)
    assert answer.startswith((b"HTTP/1.1 4",)), answer[:200]
    assert not answer.startswith(b"HTTP/1.1 431")
