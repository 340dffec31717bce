"""Declared conflict strategies, and the three-way merge that applies them.

A write based on an old version is compared field by field with the base (the
state the writer saw) and theirs (the current state). A field changed on one side
only takes that side's value; a field changed on both sides to different values
is a conflict, settled by the strategy declared for its path::

    ConflictPolicy(critical={"email", "role", "plan"}, default=LAST_WRITE_WINS)  # users
    ConflictPolicy(merge={"fields"})                                             # forms

- ``MERGE``: an object merged key by key (a key changed on both sides is settled
  by its own declaration, else the default; ``merge={"fields", "fields.*"}`` merges
  one level deeper, ``*`` standing for any one key);
- ``LAST_WRITE_WINS``: the incoming write wins;
- ``ESCALATE`` (``critical=``): the whole write is parked for a human;
- ``REFUSE``: the write fails with base, mine and theirs.

Everything here is pure: JSON objects in, a :class:`MergeReport` out.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

JsonObject: TypeAlias = dict[str, Any]


class Strategy(enum.Enum):
    MERGE = "merge"
    LAST_WRITE_WINS = "last_write_wins"
    ESCALATE = "escalate"
    REFUSE = "refuse"


MERGE: Final = Strategy.MERGE
LAST_WRITE_WINS: Final = Strategy.LAST_WRITE_WINS
ESCALATE: Final = Strategy.ESCALATE
REFUSE: Final = Strategy.REFUSE


class _Missing(enum.Enum):
    """A key absent on one side (never set, or deleted)."""

    MISSING = "missing"

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing.MISSING
Value: TypeAlias = Any  # a JSON value, or MISSING


@dataclass(frozen=True, slots=True, init=False)
class ConflictPolicy:
    """Which strategy settles a conflict on which path (dotted, e.g. ``"address.city"``)."""

    strategies: Mapping[str, Strategy] = field(default_factory=dict)
    default: Strategy = REFUSE

    def __init__(
        self,
        *,
        critical: Iterable[str] = (),
        last_write_wins: Iterable[str] = (),
        merge: Iterable[str] = (),
        refuse: Iterable[str] = (),
        default: Strategy = REFUSE,
    ) -> None:
        if default is MERGE:
            raise ValueError("MERGE applies to objects; the default must settle a leaf")
        strategies: dict[str, Strategy] = {}
        for paths, strategy in (
            (critical, ESCALATE),
            (last_write_wins, LAST_WRITE_WINS),
            (merge, MERGE),
            (refuse, REFUSE),
        ):
            if isinstance(paths, str):
                raise TypeError("pass a collection of paths, not one string")
            for path in paths:
                if path in strategies:
                    raise ValueError(f"path {path!r} is declared twice")
                strategies[path] = strategy
        object.__setattr__(self, "strategies", strategies)
        object.__setattr__(self, "default", default)

    def strategy_for(self, path: tuple[str, ...]) -> Strategy:
        """The strategy declared for ``path`` (``*`` matches one segment), or the default."""
        declared = self.strategies.get(".".join(path))
        if declared is not None:
            return declared
        for pattern, strategy in self.strategies.items():
            if "*" in pattern and _matches(pattern.split("."), path):
                return strategy
        return self.default


@dataclass(frozen=True, slots=True)
class FieldConflict:
    """One path changed on both sides to different values."""

    path: tuple[str, ...]
    base: Value
    mine: Value
    theirs: Value
    strategy: Strategy

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    def to_dict(self) -> JsonObject:
        """JSON form; a side where the key is absent has no entry."""
        out: JsonObject = {"path": self.dotted, "strategy": self.strategy.value}
        for side in ("base", "mine", "theirs"):
            value = getattr(self, side)
            if value is not MISSING:
                out[side] = value
        return out


@dataclass(frozen=True, slots=True)
class MergeReport:
    """The outcome of a three-way merge.

    ``merged`` is theirs with every change of mine that may apply: the state the
    write should produce. ``applied`` lists the paths mine changed cleanly,
    ``overwritten`` the conflicts won by last-write-wins, ``escalated`` and
    ``refused`` the ones that block the write (theirs is kept in ``merged``).
    """

    merged: JsonObject
    applied: tuple[tuple[str, ...], ...]
    overwritten: tuple[FieldConflict, ...]
    escalated: tuple[FieldConflict, ...]
    refused: tuple[FieldConflict, ...]

    @property
    def clean(self) -> bool:
        return not self.escalated and not self.refused


#: Seed 003's ``system.setting`` strategy: a setting is a value an admin sets, not a
#: decision built on the one before, so concurrent writes merge key by key (``limits``
#: one level deep) and the later write wins a key both changed. Only admins may
#: write such settings, and every write is recorded with its author (the caller's
#: duty: ``headwater.security``'s tenant settings do both); the report's
#: ``overwritten`` says which of the other writer's values were replaced.
SYSTEM_SETTING: Final = ConflictPolicy(merge={"limits"}, default=LAST_WRITE_WINS)


def same(a: Value, b: Value) -> bool:
    """JSON equality, where ``1``, ``1.0`` and ``true`` are three different values."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def merge_states(
    base: JsonObject,
    mine: JsonObject,
    theirs: JsonObject,
    policy: ConflictPolicy,
    *,
    accept_escalated: bool = False,
) -> MergeReport:
    """Three-way merge of JSON objects under ``policy``.

    With ``accept_escalated`` (an admin accepted the write), critical conflicts are
    won by mine like last-write-wins ones.
    """
    merger = _Merger(policy, accept_escalated)
    merged = merger.merge((), base, mine, theirs)
    return MergeReport(
        merged,
        tuple(merger.applied),
        tuple(merger.overwritten),
        tuple(merger.escalated),
        tuple(merger.refused),
    )


class _Merger:
    def __init__(self, policy: ConflictPolicy, accept_escalated: bool) -> None:
        self.policy = policy
        self.accept_escalated = accept_escalated
        self.applied: list[tuple[str, ...]] = []
        self.overwritten: list[FieldConflict] = []
        self.escalated: list[FieldConflict] = []
        self.refused: list[FieldConflict] = []

    def merge(
        self, path: tuple[str, ...], base: JsonObject, mine: JsonObject, theirs: JsonObject
    ) -> JsonObject:
        out = dict(theirs)
        # Theirs' key order first, then keys only mine added, so output order is stable.
        keys = list(theirs) + [k for k in mine if k not in theirs]
        keys += [k for k in base if k not in theirs and k not in mine]
        for key in keys:
            b, m, t = base.get(key, MISSING), mine.get(key, MISSING), theirs.get(key, MISSING)
            if same(m, b) or same(m, t):
                continue  # mine did not change it, or both made the same change
            sub = (*path, key)
            if same(t, b):
                self.applied.append(sub)
                _put(out, key, m)
                continue
            strategy = self.policy.strategy_for(sub)
            if strategy is MERGE and _objects(m, t) and (b is MISSING or isinstance(b, dict)):
                _put(out, key, self.merge(sub, {} if b is MISSING else b, m, t))
                continue
            if strategy is MERGE:
                strategy = self.policy.default  # not objects on every side: a leaf after all
            conflict = FieldConflict(sub, b, m, t, strategy)
            if strategy is LAST_WRITE_WINS or (strategy is ESCALATE and self.accept_escalated):
                self.overwritten.append(conflict)
                _put(out, key, m)
            elif strategy is ESCALATE:
                self.escalated.append(conflict)
            else:
                self.refused.append(conflict)
        return out


def _matches(pattern: list[str], path: tuple[str, ...]) -> bool:
    return len(pattern) == len(path) and all(
        p in ("*", s) for p, s in zip(pattern, path, strict=True)
    )


def _objects(*values: Value) -> bool:
    return all(isinstance(v, dict) for v in values)


def _put(out: JsonObject, key: str, value: Value) -> None:
    if value is MISSING:
        out.pop(key, None)
    else:
        out[key] = value
