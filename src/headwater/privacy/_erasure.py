"""Erasure by crypto-shredding: destroy a subject's key, record that it happened, tell readers.

::

    eraser = Eraser(store, SubjectKeys(store), listeners=[directory_patch, cache_drop])
    await eraser.erase_subject("tenant-1", "guest-42", actor="admin-7")

The log is never rewritten. After the key is gone every read of the subject's
events, by anyone, through any copy of the log (a replica, a backup restored
elsewhere), yields the declared replacement values. Listeners then bring what was
derived from the plain values (read models, caches, connected clients) in line.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from headwater.domain._events import Event, EventRegistry, default_registry
from headwater.errors import InvalidInput
from headwater.eventstore import EventStore
from headwater.privacy._keys import SubjectKeys, tenant_key

log = logging.getLogger(__name__)

#: The namespace of erasure event ids: erasing twice appends one event, not two.
_ERASURE_IDS: Final = uuid.UUID("5f0c7d0e-8a53-4d6b-9c57-0b6f3a1e2d41")
MAX_SUBJECT_LENGTH: Final = 200


class SubjectErased(Event, type="headwater.SubjectErased"):
    """A data subject's key was destroyed; their personal fields now read as replacements."""

    subject: str


class ErasureListener(Protocol):
    """Something derived from plain personal values that must forget a subject."""

    async def subject_erased(self, tenant_id: str | None, subject: str) -> None: ...


@dataclass(frozen=True, slots=True)
class ErasureResult:
    tenant_id: str | None
    subject: str
    #: Log position of the ``SubjectErased`` event.
    position: int
    #: False when the subject had been erased before (nothing new was destroyed).
    erased_now: bool


def erasure_stream(tenant_id: str | None, subject: str) -> str:
    """The stream of a subject's erasure: hashed, so the id itself names no one."""
    digest = hashlib.sha256(f"{tenant_key(tenant_id)}\x1f{subject}".encode()).hexdigest()
    return f"hw-erasure-{digest[:40]}"


def check_subject(subject: object) -> str:
    if not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT_LENGTH:
        raise InvalidInput(f"a subject is a non-empty id of at most {MAX_SUBJECT_LENGTH} chars")
    return subject


class Eraser:
    """Erases data subjects of one store; ``listeners`` run after each erasure."""

    def __init__(
        self,
        store: EventStore,
        keys: SubjectKeys,
        *,
        registry: EventRegistry = default_registry,
        listeners: Sequence[ErasureListener] = (),
    ) -> None:
        self.store = store
        self.keys = keys
        self.registry = registry
        self.listeners = list(listeners)
        if SubjectErased.event_type not in registry:
            registry.register(SubjectErased)

    def add_listener(self, listener: ErasureListener) -> None:
        self.listeners.append(listener)

    async def erase_subject(
        self, tenant_id: str | None, subject: str, *, actor: str | None = None
    ) -> ErasureResult:
        """Destroy ``subject``'s key in ``tenant_id`` and append ``SubjectErased``.

        Idempotent: erasing again destroys nothing new and appends nothing new.
        """
        check_subject(subject)
        # The key goes first: it is the step that actually forgets. If the append
        # below then fails, the person is already unreadable (the safe side) and a
        # retry appends the same event id, so nothing is ever recorded twice.
        erased_now = await self.keys.erase(tenant_id, subject)
        event_id = uuid.uuid5(_ERASURE_IDS, f"{tenant_key(tenant_id)}\x1f{subject}")
        metadata = {"actor": actor} if actor else None
        new = self.registry.encode(SubjectErased(subject=subject), metadata=metadata, id=event_id)
        result = await self.store.append(
            erasure_stream(tenant_id, subject), [new], tenant_id=tenant_id
        )
        for listener in self.listeners:
            # Each listener is told even if another failed: a stale cache must not stay
            # because a read-model patch raised. The failure is logged, not swallowed
            # silently, and the next erase of the subject tells them all again.
            try:
                await listener.subject_erased(tenant_id, subject)
            except Exception:
                log.exception("erasure listener %r failed", listener)
        return ErasureResult(tenant_id, subject, result.last_position, erased_now)
