"""Wake-ups for subscriptions: "something was committed, read again".

A wake-up carries no data. Subscribers always read the store for the truth, so a
lost, duplicated or early wake-up can delay an event but never lose or repeat one.
"""

from __future__ import annotations

import asyncio


class Notifier:
    """A generation of :class:`asyncio.Event`; ``notify`` sets the current one.

    Taking ``waiter()`` *before* reading and waiting on it *after* reading means a
    commit that lands in between is never missed.
    """

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def waiter(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def notify(self) -> None:
        event, self._event = self._event, None
        if event is not None:
            event.set()
