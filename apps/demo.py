"""``make demo``: the reference apps, served on the embedded default (SQLite) with demo data.

Starts one ``headwater serve`` on a fresh SQLite file with QR Event and FormEase,
seeds QR Event through the HTTP API as an organizer would, seeds FormEase (users,
versioned forms, thousands of submissions over 90 days) for the same organizer,
prints the URLs and a login, and serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import uuid
from pathlib import Path

import httpx

from apps.formease.demo import seed as seed_formease
from apps.formease.projections import PROJECTIONS as FORMEASE_PROJECTIONS
from apps.qrevent.demo import ADMIN, PASSWORD, _print
from apps.qrevent.demo import seed as seed_qrevent
from headwater.eventstore import create_event_store
from headwater.projections import attach_inline
from headwater.testing import serve

APPS = [
    "apps.formease.module:realtime",  # the hub, with FormEase's admin event names
    "apps.qrevent.module:module",
    "apps.formease.module:module",
]


async def _seed_formease(url: str, tenant_id: str, submissions: int) -> str:
    async with await create_event_store(url) as store:
        await attach_inline(store, FORMEASE_PROJECTIONS)
        seeded = await seed_formease(store, tenant_id, users=50, submissions=submissions)
    return (
        f"FormEase demo: {len(seeded.users)} users, {len(seeded.forms)} forms, "
        f"{seeded.submissions} submissions over 90 days"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default="var/demo")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--submissions", type=int, default=5000)
    args = parser.parse_args(argv)

    workdir = Path(args.data_dir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    env = {
        "HEADWATER_AUTO_MIGRATE": "true",
        "HEADWATER_BOOTSTRAP_ADMIN_EMAIL": ADMIN,
        "HEADWATER_BOOTSTRAP_ADMIN_PASSWORD": PASSWORD,
        "HEADWATER_RATE_LIMITS": "false",  # the seeding itself would trip the play limits
        # Plain HTTP on this machine: a Secure cookie would not come back from a LAN address.
        "HEADWATER_COOKIE_SECURE": "false",
        "HEADWATER_SECRET_KEY": uuid.uuid4().hex,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), *sys.path]),
    }
    # SIGTERM as Ctrl-C: leaving the `with` below is what stops the server process.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with serve(url, workdir=workdir, apps=APPS, env=env, port=args.port or None) as server:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            qrevent = seed_qrevent(http, ADMIN, PASSWORD)
        _print(qrevent)
        print(asyncio.run(_seed_formease(url, qrevent["tenant_id"], args.submissions)))
        print(f"  dashboard     : {server.url}/admin  (sign in as {qrevent['owner']})")
        print(f"  user stats    : {server.url}/formease/admin/user-stats")
        print(f"  form metrics  : {server.url}/formease/admin/form-metrics")
        print(f"  API docs      : {server.url}/docs")
        print(f"  platform admin: {ADMIN} / {PASSWORD}")
        print("Serving; Ctrl-C to stop.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.process.wait()


if __name__ == "__main__":
    main()
