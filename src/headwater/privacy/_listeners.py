"""Erasure listeners for what Headwater itself derives from personal values: cache entries.

Tag invalidation alone is not enough for erasure: on Redis it bumps the tag's
version and leaves the old entry's bytes until their TTL. So the listener deletes
the entries it is told about, here and in L2, and bumps the subject's tag for any
entry it was not told about.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from headwater.cache import Cache
from headwater.privacy._keys import tenant_key


def subject_tag(tenant_id: str | None, subject: str) -> str:
    """The tag for cache entries computed from one subject's personal values."""
    return f"subject:{tenant_key(tenant_id)}:{subject}"


class CacheEraser:
    """Drops a subject's cache entries: ``keys_of(subject)`` names them, in the tenant's scope."""

    def __init__(
        self, cache: Cache, keys_of: Callable[[str], Sequence[str]] = lambda subject: ()
    ) -> None:
        self.cache = cache
        self.keys_of = keys_of

    async def subject_erased(self, tenant_id: str | None, subject: str) -> None:
        for key in self.keys_of(subject):
            await self.cache.delete(key, tenant=tenant_id if tenant_id is not None else "-")
        await self.cache.invalidate_tags(subject_tag(tenant_id, subject))
