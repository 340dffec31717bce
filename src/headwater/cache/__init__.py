"""Caching: L1 in-process, L2 Redis, XFetch early refresh, single-flight, tags.

See ``cache.py`` for the guarantees and ``policies.py`` for the named policies.
"""

from __future__ import annotations

from headwater.cache.cache import CURRENT, SHARED, Cache, Scope
from headwater.cache.decorator import cached
from headwater.cache.memory import MemoryCache
from headwater.cache.module import CacheModule
from headwater.cache.policies import (
    COMPUTED,
    FREQUENT,
    POLICIES,
    REALTIME,
    STATIC,
    CachePolicy,
)
from headwater.cache.redis import RedisCache
from headwater.cache.serializers import JsonSerializer, MsgpackSerializer, Serializer
from headwater.cache.stats import CacheStats
from headwater.cache.tags import read_model_tag, tenant_tag

__all__ = [
    "COMPUTED",
    "CURRENT",
    "FREQUENT",
    "POLICIES",
    "REALTIME",
    "SHARED",
    "STATIC",
    "Cache",
    "CacheModule",
    "CachePolicy",
    "CacheStats",
    "JsonSerializer",
    "MemoryCache",
    "MsgpackSerializer",
    "RedisCache",
    "Scope",
    "Serializer",
    "cached",
    "read_model_tag",
    "tenant_tag",
]
