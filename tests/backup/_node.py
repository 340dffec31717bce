"""A node for the kill -9 test: a steady writer and a shipper in one process.

    python _node.py DATABASE_URL TARGET_DIR ACK_FILE INTERVAL MODE

MODE ``default`` acknowledges each append when the store returns; ``shipped`` only once
the append is in the target (``ShippedAppender``). Every acknowledgement is one line
``position unix_time`` appended to ACK_FILE, written before the next append starts.
The test kills this process with SIGKILL at a moment of its choosing.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from headwater.backup import DirectoryTarget, ShippedAppender, Shipper, ShipperOptions
from headwater.eventstore import create_event_store
from headwater.projections import attach_inline, migrate_projections
from tests.backup._ledger import deposit, ledger_by_tenant


async def main(url: str, target_dir: str, ack_path: str, interval: float, mode: str) -> None:
    store = await create_event_store(url, migrate=True)
    await migrate_projections(store)
    await attach_inline(store, [ledger_by_tenant])
    shipper = Shipper(store, DirectoryTarget(target_dir), ShipperOptions(interval=interval))
    await shipper.start()
    appender = ShippedAppender(store, shipper)
    fd = os.open(ack_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    i = 0
    while True:
        stream, event, tenant = deposit(i)
        if mode == "shipped":
            result = await appender.append(stream, event, tenant_id=tenant)
        else:
            result = await store.append(stream, event, tenant_id=tenant)
        os.write(fd, f"{result.last_position} {time.time():.6f}\n".encode())
        i += 1
        await asyncio.sleep(0.002)  # a steady writer, not a flood


if __name__ == "__main__":
    url, target_dir, ack_path, interval, mode = sys.argv[1:6]
    asyncio.run(main(url, target_dir, ack_path, float(interval), mode))
