"""Respondents in a burst on one form: no errors, no waiting on each other, exact limits.

Each submission is one append to its own session's stream, its plan limit checked in
that append's transaction; before, every submission of a plan contended on one
monthly usage stream (seconds of retries, and 409s naming an internal stream).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from apps.formease.domain.sessions import SubmissionReceived
from headwater.eventstore import create_event_store
from tests.apps.formease.conftest import World
from tests.apps.formease.support import new_user, open_form, published_form, submit

BURST, AT_ONCE = 240, 16


def _streams_of(world: World, form_id: str) -> Counter[str]:
    """How many of the form's submissions each stream of the log holds."""

    async def read() -> Counter[str]:
        async with await create_event_store(world.url) as store:
            events = store.read_all(
                types=[SubmissionReceived.event_type], tenant_id=world.a.tenant_id
            )
            return Counter([e.stream_id async for e in events if e.data["form_id"] == form_id])

    return asyncio.run(read())


def _burst(world: World, plan: str, form: str | None = None) -> list[httpx.Response]:
    http, a = world.http, world.a
    form = form or published_form(http, a, new_user(http, a, plan))
    tokens = [open_form(http, a, form)["token"] for _ in range(BURST)]

    def send(token: str) -> httpx.Response:
        return submit(http, a, token, {"name": "Ada", "age": 30})

    with ThreadPoolExecutor(AT_ONCE) as pool:
        return list(pool.map(send, tokens))


def test_a_burst_of_respondents_on_one_form_all_succeed_on_streams_of_their_own(
    world: World,
) -> None:
    form = published_form(world.http, world.a, new_user(world.http, world.a, "premium"))
    answers = _burst(world, "premium", form)  # 10,000 a month: the burst fits
    assert Counter(r.status_code for r in answers) == {201: BURST}
    # No stream shared by respondents (before: one per owner and month, for all).
    streams = _streams_of(world, form)
    assert sum(streams.values()) == BURST
    assert set(streams.values()) == {1}


def test_a_plan_limit_reached_during_a_burst_is_exact(world: World) -> None:
    answers = _burst(world, "free")  # 100 submissions a month
    assert Counter(r.status_code for r in answers) == {201: 100, 403: BURST - 100}
    for refused in (r for r in answers if r.status_code == 403):
        error = refused.json()["error"]
        assert error["code"] == "plan_limit_reached"
        assert "feusage" not in refused.text
        assert "feopen" not in refused.text
