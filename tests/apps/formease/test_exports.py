"""Exports stream 100k submissions with the list's filters, in flat server memory."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import time
from pathlib import Path

import orjson
import pytest

from apps.formease.demo import Seeded, seed
from apps.formease.exports import FIXED
from apps.formease.projections import PROJECTIONS
from headwater.eventstore import create_event_store
from headwater.projections import attach_inline
from tests.apps.formease.conftest import World

ROWS = 100_000


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def _seed(url: str, tenant_id: str) -> Seeded:
    async with await create_event_store(url, migrate=True) as store:
        await attach_inline(store, PROJECTIONS)
        return await seed(store, tenant_id, users=40, submissions=ROWS)


class PeakRss:
    """Samples a process's resident memory while a block runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.slow
def test_exports_of_100k_rows_stream_in_flat_memory(world: World) -> None:
    http, a = world.http, world.a
    seeded = asyncio.run(_seed(world.url, a.tenant_id))
    pid = world.server.process.pid
    # Warm up the code paths (imports, caches) on a small export first.
    one_form = seeded.forms[0][0]
    small = http.get(
        "/formease/submissions/export.csv", params={"form_id": one_form}, headers=a.staff
    )
    assert small.status_code == 200
    baseline = rss_bytes(pid)
    size, rows = 0, 0
    with (
        PeakRss(pid) as memory,
        http.stream("GET", "/formease/submissions/export.csv", headers=a.staff) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        head, tail = b"", b""
        for chunk in response.iter_bytes():
            head = head or chunk
            size += len(chunk)
            rows += chunk.count(b"\n")
            tail = (tail + chunk)[-400:]
    assert rows == ROWS + 1  # the header line
    growth = memory.peak - baseline
    print(f"csv export: {size / 1e6:.1f} MB, peak RSS growth {growth / 1e6:.1f} MB")
    assert size > 15_000_000
    assert growth < 40_000_000, f"RSS grew {growth} bytes for a {size} byte export"
    # One column per field: the seeded forms' answers each sit under their own key.
    header = next(csv.reader(io.StringIO(head.decode("utf-8-sig"))))
    last = next(csv.reader(io.StringIO(tail.decode().strip().splitlines()[-1])))
    assert header[:5] == list(FIXED)
    assert last[header.index("name")].startswith("Respondent")

    # The JSON export is one valid array and honours the same filters as the list.
    filtered = http.get(
        "/formease/submissions/export.json", params={"form_id": one_form}, headers=a.staff
    )
    items = orjson.loads(filtered.content)
    listed = http.get(
        "/formease/submissions", params={"form_id": one_form, "limit": 500}, headers=a.staff
    ).json()["data"]
    assert items
    assert all(i["form_id"] == one_form for i in items)
    assert [i["submission_id"] for i in items][: len(listed)] == [
        s["submission_id"] for s in listed
    ]
    with (
        PeakRss(pid) as memory,
        http.stream("GET", "/formease/submissions/export.json", headers=a.staff) as response,
    ):
        size = sum(len(chunk) for chunk in response.iter_bytes())
    assert memory.peak - baseline < 40_000_000
    assert size > 15_000_000
    # B exports nothing of A's.
    other = http.get("/formease/submissions/export.json", headers=world.b.staff)
    assert orjson.loads(other.content) == []
