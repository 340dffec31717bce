"""Deciding a write that was based on an old version.

The handler runs on the base version (what the writer saw): that gives *mine*. The
three-way merge with the current state (*theirs*) under the aggregate's declared
:class:`ConflictPolicy` gives the state the write should produce, or says the write
must be escalated or refused. A clean merge is then written as events, never as a
raw state patch, and only if those events provably produce the merged state:

1. the handler's own decision on the current state (its invariants are checked
   against what is true now), else
2. the events it decided on the base, applied to the current state (a handler
   that restates fields the writer did not change would otherwise overwrite theirs),
3. else the write is refused: nothing may be lost silently.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from headwater.domain._aggregate import Aggregate
from headwater.domain._conflicts import MergeReport, merge_states, same
from headwater.errors import MergeConflict

#: Runs the command's handler on an aggregate (recording events) and returns its result.
Decide = Callable[[Aggregate[Any]], Awaitable[Any]]


@dataclass(slots=True)
class Decision:
    """What a command decided: ``aggregate`` holds the events to write."""

    aggregate: Aggregate[Any]
    value: Any
    merge: MergeReport | None = None
    #: The write conflicts on a critical field: park it for review, write nothing.
    escalate: bool = False


async def decide_on_base(
    decide: Decide,
    base: Aggregate[Any],
    current: Aggregate[Any],
    *,
    accept_escalated: bool = False,
) -> Decision:
    """Decide on ``base`` (an older version of ``current``) and merge into ``current``.

    Raises :class:`MergeConflict` (with base, mine and theirs) when a conflict is
    refused by the policy or the merge cannot be written as events.
    """
    base_state = base.state()
    await decide(base)
    mine, theirs = base.state(), current.state()
    report = merge_states(
        base_state,
        mine,
        theirs,
        type(current).conflict_policy,
        accept_escalated=accept_escalated,
    )

    def conflict(fields: list[str], reason: str = "") -> MergeConflict:
        return MergeConflict(
            current.stream_id,
            based_on_version=base.stored_version,
            current_version=current.version,
            base=base_state,
            mine=mine,
            theirs=theirs,
            fields=fields,
            reason=reason,
        )

    if report.refused:
        raise conflict([c.dotted for c in report.refused])
    if report.escalated:
        return Decision(current, None, report, escalate=True)
    candidate = current.clone()
    value = await decide(candidate)
    if not same(candidate.state(), report.merged):
        candidate = current.clone()
        for event in base.pending_events:
            candidate.record(event)
        if not same(candidate.state(), report.merged):
            changed = [".".join(p) for p in report.applied]
            changed += [c.dotted for c in report.overwritten]
            raise conflict(changed, "the command's events cannot express the merge")
    return Decision(candidate, value, report)
