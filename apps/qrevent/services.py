"""What the routes share at run time: the command bus, the QR signer, the repository."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from apps.qrevent.signing import QrSigner
from headwater.domain import CommandBus, Repository


@dataclass(frozen=True)
class QrEventServices:
    bus: CommandBus
    repository: Repository
    signer: QrSigner
    #: Imports running in the background; held so they are not garbage-collected.
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The import stays "running": its resume endpoint retries what is missing.
            logging.getLogger("qrevent").error(
                "background task %s failed", task.get_name(), exc_info=task.exception()
            )

    async def cancel_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
