"""The query bus: one async handler per query type.

Queries are plain classes (pydantic models or dataclasses) that subclass
``Query[Result]``, so ``await bus.ask(query)`` is typed with the handler's result::

    class FormMetrics(BaseModel, Query[list[DailyMetric]]):
        form_id: str
        days: int = 7

    @bus.handler(FormMetrics)
    async def form_metrics(query: FormMetrics) -> list[DailyMetric]: ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, cast

from headwater.errors import InvalidReadModel, UnknownQuery

R = TypeVar("R")
Q = TypeVar("Q", bound="Query[Any]")
HandlerT = TypeVar("HandlerT", bound=Callable[..., Awaitable[Any]])


class Query(Generic[R]):
    """Base of every query; ``R`` is what its handler returns."""

    __slots__ = ()


class QueryBus:
    def __init__(self) -> None:
        self._handlers: dict[type[Any], Callable[[Any], Awaitable[Any]]] = {}

    def register(self, query_type: type[Q], handler: Callable[[Q], Awaitable[Any]]) -> None:
        if not (isinstance(query_type, type) and issubclass(query_type, Query)):
            raise InvalidReadModel(f"{query_type!r} is not a Query subclass")
        if query_type in self._handlers:
            raise InvalidReadModel(f"{query_type.__name__} has a handler already")
        self._handlers[query_type] = handler

    def handler(self, query_type: type[Q]) -> Callable[[HandlerT], HandlerT]:
        def register(fn: HandlerT) -> HandlerT:
            self.register(query_type, fn)
            return fn

        return register

    async def ask(self, query: Query[R]) -> R:
        handler = self._handlers.get(type(query))
        if handler is None:
            raise UnknownQuery(f"no handler for {type(query).__name__}")
        return cast(R, await handler(query))
