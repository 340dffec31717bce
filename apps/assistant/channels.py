"""Who may follow a reply over the realtime hub: the user who asked, nobody else.

A reply's stream channel (``stream:assistantreply-{id}``) would otherwise fall under the
framework's stream policy, which lets any user of the tenant follow any stream whose id
they know; the REST and SSE routes are scoped to the asking user, so the socket must be
too. The policy wraps the stream kind's current one: other streams are untouched.
"""

from __future__ import annotations

import inspect

from apps.assistant.domain.replies import CATEGORY
from apps.assistant.projections import REPLIES
from headwater import Principal
from headwater.eventstore import EventStore
from headwater.realtime import Channel, ChannelPolicy, ChannelRegistry

STREAM_KIND = "stream"
_PREFIX = f"{CATEGORY}-"


def owner_only(store: EventStore, inner: ChannelPolicy) -> ChannelPolicy:
    """``inner`` for every stream; for a reply stream, also its asker only."""

    async def policy(principal: Principal, channel: Channel) -> bool:
        verdict = inner(principal, channel)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        if verdict is not True:
            return False
        key = channel.key or ""
        if not key.startswith(_PREFIX) or principal.tenant_id is None:
            return True
        row = await store.fetchone(
            f"SELECT user_id FROM {REPLIES.ref} WHERE tenant_id = ? AND reply_id = ?",
            [principal.tenant_id, key.removeprefix(_PREFIX)],
        )
        return row is not None and row[0] == principal.subject

    return policy


def narrow(registry: ChannelRegistry, store: EventStore) -> ChannelPolicy | None:
    """Install the owner-only policy; returns the one it wraps, to put back at stop."""
    inner = registry.policy_of(STREAM_KIND)
    if inner is not None:
        registry.set_policy(STREAM_KIND, owner_only(store, inner))
    return inner
