"""Declared personal data: which fields of an event name a person, and what replaces them.

::

    class GuestRegistered(Event, type="qrevent.GuestRegistered"):
        personal_subject: ClassVar[str | None] = None        # the stream's id is the subject
        first_name: Annotated[str, Personal("[erased]")]
        email: Annotated[str | None, Personal(None)] = None

An event's personal fields are sealed before they reach the log (see
:class:`SubjectCipher`): the stored data carries the *replacement* values in the
fields' places, and the real values only inside one ciphertext under a key held
for that tenant and subject. A reader that cannot (or may no longer) open the
ciphertext therefore sees the replacement values, and a valid event, with no
special case: that is what erasure by deleting the key relies on.

This module only declares and splits; the keys and the cipher live in
``headwater.privacy``, above the domain, and reach the repository as a typed
collaborator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, Protocol

from headwater.eventstore import NewEvent, RecordedEvent

#: The key under which stored data carries the sealed personal values.
SEALED_KEY: Final = "_personal"


@dataclass(frozen=True, slots=True)
class Personal:
    """Field annotation: this value is personal data; ``replacement`` is shown once erased.

    The replacement must itself be a valid value of the field (so an erased event
    still validates) and must not be personal.
    """

    replacement: Any = "[erased]"


@cache
def personal_fields(cls: type[Any]) -> Mapping[str, Any]:
    """The personal fields of an event class, each with its replacement value."""
    found: dict[str, Any] = {}
    for name, info in getattr(cls, "model_fields", {}).items():
        for marker in info.metadata:
            if isinstance(marker, Personal):
                found[name] = marker.replacement
    return found


def subject_of(cls: type[Any], data: Mapping[str, Any], stream_id: str) -> str:
    """The data subject of an event: the field its class names, or else its stream."""
    field = getattr(cls, "personal_subject", None)
    if field is None:
        return stream_id
    value = data.get(field)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{cls.__name__}.{field} names the data subject and must be set")
    return value


def split_personal(
    fields: Mapping[str, Any], data: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``data`` with replacements in the personal fields' places, and the real values."""
    public = dict(data)
    private: dict[str, Any] = {}
    for name, replacement in fields.items():
        if name in public:
            private[name] = public[name]
            public[name] = replacement
    return public, private


def strip_sealed(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` without the sealed envelope: what a reader without the key sees."""
    return {key: value for key, value in data.items() if key != SEALED_KEY}


class SubjectCipher(Protocol):
    """Seals personal fields on the way into the log and opens them on the way out.

    ``seal`` runs where events are encoded to payloads (the repository's save);
    ``open`` returns records whose personal fields hold the real values where the
    subject's key still exists, and the replacement values where it was erased.
    """

    async def seal(
        self, events: Sequence[NewEvent], *, stream_id: str, tenant_id: str | None
    ) -> list[NewEvent]: ...

    async def open(self, records: Sequence[RecordedEvent]) -> list[RecordedEvent]: ...
