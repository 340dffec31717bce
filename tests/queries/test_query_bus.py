"""The query bus: typed queries, one handler each, handlers read read models."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from headwater.projections import InvalidReadModel, UnknownQuery
from headwater.queries import Query, QueryBus

pytestmark = pytest.mark.anyio


class PlanCount(BaseModel, Query[int]):
    plan: str


class Unhandled(BaseModel, Query[str]):
    pass


async def test_ask_dispatches_to_the_registered_handler() -> None:
    bus = QueryBus()
    data = {"pro": 3, "free": 5}

    @bus.handler(PlanCount)
    async def plan_count(query: PlanCount) -> int:
        return data[query.plan]

    assert await bus.ask(PlanCount(plan="pro")) == 3
    with pytest.raises(UnknownQuery):
        await bus.ask(Unhandled())
    with pytest.raises(InvalidReadModel):
        bus.register(PlanCount, plan_count)
