"""``@cached``: put a query function behind the cache by its arguments.

::

    @cached(runtime.require_cache, policy=REALTIME,
            key="leaderboard:{game_id}", tags=[read_model_tag("scores")])
    async def leaderboard(game_id: str) -> list[dict[str, Any]]: ...

``key`` is a format string over the arguments by name, or a function taking some of
them by name; left out, the key is the function's qualified name and its arguments
as JSON (stable across nodes, unlike ``repr``). ``tags`` may also be such a function.
The cache may be given as a getter because query functions are defined at import
and the cache is created at start-up.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ParamSpec, TypeVar

import orjson

from headwater.cache._cache import CURRENT, Cache, Scope
from headwater.cache._policies import FREQUENT, CachePolicy

P = ParamSpec("P")
T = TypeVar("T")

KeySpec = str | Callable[..., str] | None
TagSpec = Sequence[str] | Callable[..., Sequence[str]]


def cached(
    cache: Cache | Callable[[], Cache],
    *,
    policy: CachePolicy = FREQUENT,
    key: KeySpec = None,
    tags: TagSpec = (),
    tenant: str | Scope = CURRENT,
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    def decorate(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        name = f"{fn.__module__}.{fn.__qualname__}"
        signature = inspect.signature(fn)

        def arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return bound.arguments

        key_by_name = _by_name(key) if callable(key) else None
        tags_by_name = _by_name(tags) if callable(tags) else None

        def key_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
            if key_by_name is not None:
                return str(key_by_name(arguments(args, kwargs)))
            if isinstance(key, str):
                return key.format(**arguments(args, kwargs))
            encoded = orjson.dumps([args, kwargs], option=orjson.OPT_SORT_KEYS, default=str)
            return f"{name}:{encoded.decode()}"

        def tags_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Sequence[str]:
            if tags_by_name is not None:
                return list(tags_by_name(arguments(args, kwargs)))
            assert not callable(tags)
            return tags

        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            target = cache if isinstance(cache, Cache) else cache()
            entry_tags = tags_of(args, kwargs)
            return await target.get_or_compute(
                key_of(args, kwargs),
                lambda: fn(*args, **kwargs),
                policy=policy,
                tags=entry_tags,
                tenant=tenant,
            )

        return wrapper

    return decorate


def _by_name(spec: Callable[..., Any]) -> Callable[[dict[str, Any]], Any]:
    """Call ``spec`` with the arguments it names (so it need not list them all)."""
    wanted = frozenset(inspect.signature(spec).parameters)

    def call(arguments: dict[str, Any]) -> Any:
        return spec(**{name: value for name, value in arguments.items() if name in wanted})

    return call
