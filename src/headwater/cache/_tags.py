"""Tag names, so that the code that writes a read model and the code that caches reads
of it agree on what to invalidate."""

from __future__ import annotations


def read_model_tag(table: str) -> str:
    """The tag of every entry computed from read-model table ``table`` (any tenant)."""
    return f"readmodel:{table}"


def tenant_tag(tenant_id: str, tag: str) -> str:
    """A tag narrowed to one tenant, for writers that know which tenant they changed."""
    return f"tenant:{tenant_id}:{tag}"
