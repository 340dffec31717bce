"""The assistant's replies: resuming a stream on the same node and on another, streaming
throughput, and budget exactness, on two real nodes sharing one PostgreSQL schema.

Run: ``python benchmarks/assistant.py [--quick] [--postgres-url URL] [--sqlite]``.
Progress goes to stderr; the last line of stdout is one JSON object.

Clients ask questions at once (``--replies``; 24, or 12 with ``--quick``), each on a
node of its own; the local provider answers (5 ms a word), coalesced into chunk events.
Each client reads three events, drops its connection, waits 150 ms while the reply
goes on, and reconnects with ``after`` = the last seq it saw: half of them to the same
node, half to the other. Measured:

* ``resume_p99_ms`` (same node, target <= 500) and ``resume_cross_node_p99_ms``
  (target <= 2000): from the reconnect's request to its first event.
* Baseline, in the same run: ``baseline_read_p99_ms``, a plain ``GET`` of the reply's
  state (request, response) on the same nodes; ``ratios.resume_vs_read`` is
  resume p99 / that.
* ``stream_chunks_per_second`` per node: chunk events delivered to clients per second
  of the run, divided by the nodes; ``coalescing`` is words (what a provider streams)
  per chunk event (what the log stores).
* ``budget_exactness``: tokens charged to the tenant's budget (the projection) divided
  by the tokens the completed replies report using; target exactly 1.0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from headwater.testing._server import serve  # noqa: E402

EMAIL, PASSWORD = "root@bench.example", "bench-password-1"
QUESTIONS = (
    "How does a projection rebuild from the log?",
    "What happens to a job when its worker dies?",
    "How do I resume a stream after a reconnect?",
    "How are rate limits configured per endpoint?",
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def p99(samples: list[float]) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2)


def _token(http: httpx.Client) -> dict[str, str]:
    got = http.post("/auth/login", json={"email": EMAIL, "password": PASSWORD})
    root = {"authorization": f"Bearer {got.json()['data']['access_token']}"}
    tenant = http.post("/admin/tenants", json={"name": "Bench"}, headers=root).json()["data"]
    acting = http.post("/auth/act-as", json={"tenant_id": tenant["id"]}, headers=root)
    admin = {"authorization": f"Bearer {acting.json()['data']['access_token']}"}
    email = "user@bench.example"
    http.post(
        "/accounts", json={"email": email, "password": PASSWORD, "roles": ["user"]}, headers=admin
    )
    got = http.post("/auth/login", json={"email": email, "password": PASSWORD})
    return {"authorization": f"Bearer {got.json()['data']['access_token']}"}


class Client(threading.Thread):
    def __init__(self, bases: list[str], user: dict[str, str], n: int) -> None:
        super().__init__(daemon=True)
        self.bases, self.user, self.n = bases, user, n
        self.first = bases[n % len(bases)]
        # Even clients come back to the same node, odd ones to the other.
        self.second = self.first if n % 4 < 2 else bases[(n + 1) % len(bases)]
        self.same_node = self.first == self.second
        self.seqs: list[int] = []
        self.chunks = 0
        self.words = 0
        self.resume_ms: float | None = None
        self.read_ms: list[float] = []
        self.usage = 0
        self.error: BaseException | None = None

    def _events(self, base: str, reply_id: str, most: int | None) -> float | None:
        """Read frames; the ms to the first one."""
        started = time.perf_counter()
        first = None
        url = f"{base}/assistant/replies/{reply_id}/events"
        after = self.seqs[-1] if self.seqs else 0
        with httpx.stream(
            "GET", url, params={"after": after}, headers=self.user, timeout=60
        ) as got:
            buffer = ""
            for text in got.iter_text():
                buffer += text
                while "\n\n" in buffer:
                    frame, buffer = buffer.split("\n\n", 1)
                    data = [line[6:] for line in frame.split("\n") if line.startswith("data: ")]
                    if not data or not any(line.startswith("id: ") for line in frame.split("\n")):
                        continue
                    event = json.loads("\n".join(data))
                    if first is None:
                        first = (time.perf_counter() - started) * 1000
                    self.seqs.append(event["seq"])
                    if event["kind"] == "chunk":
                        self.chunks += 1
                        self.words += len(event["text"].split())
                    if event["kind"] in ("completed", "failed", "cancelled"):
                        self.usage = event.get("usage", {}).get("total_tokens", 0)
                        return first
                    if most is not None and len(self.seqs) >= most:
                        return first
        return first

    def run(self) -> None:
        try:
            body = {
                "title": "bench",
                "messages": [{"role": "user", "content": QUESTIONS[self.n % len(QUESTIONS)]}],
            }
            made = httpx.post(f"{self.first}/assistant/threads", json=body, headers=self.user)
            reply_id = made.json()["data"]["reply"]["reply_id"]
            self._events(self.first, reply_id, most=3)
            time.sleep(0.15)  # away while the reply goes on
            self.resume_ms = self._events(self.second, reply_id, most=None)
            for _ in range(5):
                started = time.perf_counter()
                httpx.get(f"{self.first}/assistant/replies/{reply_id}", headers=self.user)
                self.read_ms.append((time.perf_counter() - started) * 1000)
        except BaseException as exc:
            self.error = exc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--replies", type=int, default=None)
    parser.add_argument("--sqlite", action="store_true", help="a shared SQLite file instead")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "HEADWATER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    replies = args.replies or (12 if args.quick else 24)
    env = {
        "HEADWATER_AUTO_MIGRATE": "true",
        "HEADWATER_RATE_LIMITS": "false",
        "HEADWATER_BOOTSTRAP_ADMIN_EMAIL": EMAIL,
        "HEADWATER_BOOTSTRAP_ADMIN_PASSWORD": PASSWORD,
        "HEADWATER_FAST_PASSWORD_HASHING": "true",
        "HEADWATER_ASSISTANT_LOCAL_DELAY_MS": "5",
        "HEADWATER_ASSISTANT_COALESCE_MS": "50",
        "PYTHONPATH": str(ROOT),
    }
    schema = f"hw_bench_as_{uuid.uuid4().hex[:12]}"
    with TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        if args.sqlite:
            url = f"sqlite:///{workdir / 'events.db'}"
        else:
            with psycopg.connect(args.postgres_url, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            stack.callback(_drop, args.postgres_url, schema)
            url = f"{args.postgres_url}?schema={schema}"
        log(f"assistant bench: 2 nodes on {'sqlite' if args.sqlite else 'postgresql'}")
        nodes = [
            stack.enter_context(
                serve(url, workdir=workdir, apps=["apps.assistant.module:module"], env=env)
            )
            for _ in range(2)
        ]
        bases = [node.url for node in nodes]
        with httpx.Client(base_url=bases[0], timeout=60) as http:
            user = _token(http)
        clients = [Client(bases, user, n) for n in range(replies)]
        started = time.perf_counter()
        for client in clients:
            client.start()
        for client in clients:
            client.join(timeout=300)
        elapsed = time.perf_counter() - started
        failed = [c.error for c in clients if c.error is not None]
        if failed:
            raise failed[0]
        with httpx.Client(base_url=bases[1], timeout=60) as http:
            budget = http.get("/assistant/budget", headers=user).json()["data"]
    same = [c.resume_ms for c in clients if c.same_node and c.resume_ms is not None]
    cross = [c.resume_ms for c in clients if not c.same_node and c.resume_ms is not None]
    reads = [ms for c in clients for ms in c.read_ms]
    gaps = sum(c.seqs != list(range(1, len(c.seqs) + 1)) for c in clients)
    chunks = sum(c.chunks for c in clients)
    used = sum(c.usage for c in clients)
    resume, resume_cross, read = p99(same), p99(cross), p99(reads)
    summary = {
        "benchmark": "assistant",
        "backend": "sqlite" if args.sqlite else "postgresql",
        "replies": replies,
        "resume_p99_ms": resume,
        "resume_cross_node_p99_ms": resume_cross,
        "resume_median_ms": round(statistics.median(same), 2) if same else None,
        "resume_cross_node_median_ms": round(statistics.median(cross), 2) if cross else None,
        "baseline_read_p99_ms": read,
        "stream_chunks_per_second": round(chunks / elapsed / len(bases), 1),
        "coalescing": round(sum(c.words for c in clients) / max(chunks, 1), 2),
        "budget_exactness": round(budget["tenant"]["used"] / used, 6) if used else None,
        "clients_with_gaps_or_duplicates": gaps,
        "ratios": {
            "resume_vs_read": round(resume / read, 3) if resume and read else None,
            "resume_cross_node_vs_read": (
                round(resume_cross / read, 3) if resume_cross and read else None
            ),
        },
        "targets": {
            "resume_p99_ms": 500,
            "resume_cross_node_p99_ms": 2000,
            "budget_exactness": 1.0,
        },
        "load": os.getloadavg()[0],
    }
    summary["met"] = {
        "resume_p99_ms": resume is not None and resume <= 500,
        "resume_cross_node_p99_ms": resume_cross is not None and resume_cross <= 2000,
        "budget_exactness": summary["budget_exactness"] == 1.0,
    }
    sys.stdout.flush()
    print(json.dumps(summary), flush=True)


def _drop(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
