"""Public links: made and revoked by staff (with events), opened and submitted by anyone
holding one, the same 404 for every dead or forged link, and rate limits per link and
per respondent session."""

from __future__ import annotations

import asyncio

from apps.formease.module import FORMEASE_ENDPOINTS, FormEaseModule
from headwater.eventstore import create_event_store
from headwater.ratelimit import RateLimitConfig, RateLimiter, TierLimit
from headwater.security import ANONYMOUS
from tests.apps.formease.conftest import World
from tests.apps.formease.support import TEXT, data, error, new_form, new_user, published_form

CITY = {"type": "text", "label": "City", "order": 3, "show_if": {"field": "local", "equals": True}}
LOCAL = {"type": "boolean", "label": "Local?", "order": 2, "required": True}


def _link(world: World, form: str) -> str:
    made = world.http.post(f"/formease/forms/{form}/public-link", headers=world.a.staff)
    return str(data(made, 201)["token"])


def test_anyone_with_the_link_answers_without_an_account(world: World) -> None:
    http, a = world.http, world.a
    fields = {"name": TEXT, "local": LOCAL, "city": CITY}
    form = published_form(http, a, new_user(http, a, "premium"), fields)
    made = data(http.post(f"/formease/forms/{form}/public-link", headers=a.staff), 201)
    assert made["url"] == f"/formease/respond#{made['token']}"
    shown = data(http.get(f"/formease/forms/{form}/public-link", headers=a.staff))
    assert shown == made
    opened = data(http.post(f"/formease/public/{made['token']}/open"), 201)
    assert (opened["form_id"], opened["version"]) == (form, 1)
    assert set(opened["fields"]) == {"name", "local", "city"}
    session = {"x-form-session": opened["session"]}
    link = f"/formease/public/{made['token']}"
    assert data(http.post(f"{link}/views", json={"fields": ["name"]}, headers=session))
    # Validated as the API validates: a branch-hidden field may not be answered.
    hidden = {"answers": {"name": "Ann", "local": False, "city": "Oslo"}}
    refused = error(http.post(f"{link}/submissions", json=hidden, headers=session), 400)
    assert refused["details"]["fields"] == {"city": "answered a field that was not shown"}
    good = {"answers": {"name": "Ann", "local": True, "city": "Oslo"}}
    sent = data(http.post(f"{link}/submissions", json=good, headers=session), 201)
    assert sent["form_id"] == form
    listed = data(http.get("/formease/submissions", params={"form_id": form}, headers=a.staff))
    assert [s["submission_id"] for s in listed] == [sent["submission_id"]]
    # A retry of the same answers is the same submission, not a second one.
    again = data(http.post(f"{link}/submissions", json=good, headers=session), 201)
    assert again["submission_id"] == sent["submission_id"]


def test_revoked_replaced_forged_and_foreign_links_are_one_404(world: World) -> None:
    http, a, b = world.http, world.a, world.b
    form = published_form(http, a, new_user(http, a, "premium"))
    first = _link(world, form)
    second = _link(world, form)  # replaces the first
    assert second != first
    # A retried request (same idempotency key) answers the link it made, not a third.
    retry = {**a.staff, "idempotency-key": "share-it-once"}
    made = data(http.post(f"/formease/forms/{form}/public-link", headers=retry), 201)
    assert data(http.post(f"/formease/forms/{form}/public-link", headers=retry), 201) == made
    second = made["token"]
    assert error(http.post(f"/formease/public/{first}/open"), 404)["code"] == "not_found"
    opened = data(http.post(f"/formease/public/{second}/open"), 201)
    body, dot, mac = second.partition(".")
    forged = f"{body}{dot}{'A' * len(mac)}"
    for token in (forged, "garbage", "a.b", f"{body[:-2]}xx{dot}{mac}"):
        assert error(http.post(f"/formease/public/{token}/open"), 404)["message"] == (
            "no such form link"
        )
    # A session of another form cannot be submitted through this link.
    other = published_form(http, a, new_user(http, a, "premium"))
    foreign = data(http.post(f"/formease/public/{_link(world, other)}/open"), 201)["session"]
    answers = {"answers": {"name": "x"}}
    wrong = http.post(
        f"/formease/public/{second}/submissions", json=answers, headers={"x-form-session": foreign}
    )
    assert error(wrong, 404)
    # Another tenant's staff neither see nor revoke it; revoking ends it at once.
    assert error(http.get(f"/formease/forms/{form}/public-link", headers=b.staff), 404)
    assert error(http.delete(f"/formease/forms/{form}/public-link", headers=b.staff), 404)
    data(http.delete(f"/formease/forms/{form}/public-link", headers=a.staff))
    assert error(http.get(f"/formease/forms/{form}/public-link", headers=a.staff), 404)
    session = {"x-form-session": opened["session"]}
    late = http.post(f"/formease/public/{second}/submissions", json=answers, headers=session)
    assert error(late, 404)


def test_a_draft_gets_no_link_and_the_events_are_recorded(world: World) -> None:
    http, a = world.http, world.a
    draft = new_form(http, a, new_user(http, a, "premium"))
    assert error(http.post(f"/formease/forms/{draft}/public-link", headers=a.staff), 400)
    form = published_form(http, a, new_user(http, a, "premium"))
    _link(world, form)
    _link(world, form)
    data(http.delete(f"/formease/forms/{form}/public-link", headers=a.staff))
    types = asyncio.run(_event_types(world.url, form))
    assert types[-4:] == [
        "formease.PublicLinkCreated",
        "formease.PublicLinkRevoked",
        "formease.PublicLinkCreated",
        "formease.PublicLinkRevoked",
    ]


async def _event_types(url: str, form_id: str) -> list[str]:
    kinds = ["formease.PublicLinkCreated", "formease.PublicLinkRevoked"]
    async with await create_event_store(url) as store:
        events = [e async for e in store.read_all(types=kinds)]
    return [e.type for e in events if form_id in e.stream_id]


def test_respondents_are_limited_per_session_and_per_link_not_per_address() -> None:
    assert FormEaseModule().endpoint_limits() == FORMEASE_ENDPOINTS
    config = RateLimitConfig(tiers={"anonymous": TierLimit(1000, 50)}, endpoints=FORMEASE_ENDPOINTS)
    limiter = RateLimiter(config)

    async def submits(session: str, times: int) -> list[bool]:
        path = "/formease/public/link-1/submissions"
        headers = {"x-form-session": session}
        return [
            (await limiter.check(ANONYMOUS, "POST", path, "10.0.0.1", headers)).allowed
            for _ in range(times)
        ]

    async def run() -> tuple[list[bool], list[bool]]:
        return await submits("session-a", 4), await submits("session-b", 3)

    one, two = asyncio.run(run())
    assert one == [True, True, True, False]  # one respondent's burst of 3
    assert two == [True, True, True]  # another respondent at the same address
