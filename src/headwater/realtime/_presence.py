"""Presence: who is connected to a channel.

Presence is opt-in per subscription (``"presence": true``): such a subscriber is
listed, gets the member list when it subscribes, and a ``presence`` message whenever
someone joins or leaves. A subject with several connections (tabs, devices) counts
once, so pushes happen when a subject's first connection joins or its last one
leaves. Plain subscribers are neither listed nor told, which keeps a channel with
thousands of watchers from paying N pushes per connect.

Rosters are kept per node: with several nodes, each lists the subscribers it serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class _Member:
    name: str | None
    connections: int


class Roster:
    """Subjects present on one channel of one tenant."""

    __slots__ = ("_members",)

    def __init__(self) -> None:
        self._members: dict[str, _Member] = {}

    def join(self, subject: str, name: str | None) -> bool:
        """Count a connection in; True when the subject was not present before."""
        member = self._members.get(subject)
        if member is not None:
            member.connections += 1
            return False
        self._members[subject] = _Member(name, 1)
        return True

    def leave(self, subject: str) -> bool:
        """Count a connection out; True when it was the subject's last one."""
        member = self._members.get(subject)
        if member is None:
            return False
        member.connections -= 1
        if member.connections > 0:
            return False
        del self._members[subject]
        return True

    def members(self) -> list[dict[str, Any]]:
        return [
            {"subject": subject, "name": member.name, "connections": member.connections}
            for subject, member in sorted(self._members.items())
        ]

    def __len__(self) -> int:
        return len(self._members)
