"""Caching: L1 in-process, L2 Redis, XFetch early refresh, single-flight, tags.

See ``cache.py`` for the guarantees and ``policies.py`` for the named policies.
"""

from __future__ import annotations

from headwater.cache._cache import CURRENT, SHARED, Cache, Scope
from headwater.cache._decorator import cached
from headwater.cache._memory import MemoryCache
from headwater.cache._module import CacheModule
from headwater.cache._policies import (
    COMPUTED,
    FREQUENT,
    POLICIES,
    REALTIME,
    STATIC,
    CachePolicy,
)
from headwater.cache._read_models import InvalidatingBus, ReadModels
from headwater.cache._redis import RedisCache
from headwater.cache._serializers import JsonSerializer, MsgpackSerializer, Serializer
from headwater.cache._stats import CacheStats
from headwater.cache._tags import read_model_tag, tenant_tag

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
    "InvalidatingBus",
    "JsonSerializer",
    "MemoryCache",
    "MsgpackSerializer",
    "ReadModels",
    "RedisCache",
    "Scope",
    "Serializer",
    "cached",
    "read_model_tag",
    "tenant_tag",
]
