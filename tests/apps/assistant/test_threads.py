"""Threads over HTTP: the seed's validation at each boundary, history paging, isolation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.apps.assistant.conftest import World
from tests.apps.assistant.support import (
    ask,
    check_sequence,
    data,
    parse_sse,
    stream,
    wait_finished,
)


def _post(world: World, thread_id: str, messages: list[dict[str, Any]]) -> Any:
    return world.http.post(
        f"/assistant/threads/{thread_id}/messages",
        json={"messages": messages},
        headers=world.a.alice,
    )


def _thread(world: World) -> str:
    made = world.http.post("/assistant/threads", json={"title": "t"}, headers=world.a.alice)
    return str(data(made, 201)["thread_id"])


def _locs(response: Any) -> list[list[str]]:
    assert response.status_code == 422, response.text
    body = response.json()["error"]
    assert body["code"] == "validation_failed"
    return [e["loc"] for e in body["details"]["errors"]]


USER = {"role": "user", "content": "hello"}


def test_fifty_messages_pass_and_fifty_one_are_refused(world: World) -> None:
    thread_id = _thread(world)
    assert _post(world, thread_id, [USER] * 50).status_code == 202
    assert _locs(_post(world, thread_id, [USER] * 51)) == [["body", "messages"]]
    assert _locs(_post(world, thread_id, [])) == [["body", "messages"]]


def test_content_of_ten_thousand_passes_and_one_more_is_refused(world: World) -> None:
    thread_id = _thread(world)
    at_limit = [{"role": "user", "content": "x" * 10_000}]
    assert _post(world, thread_id, at_limit).status_code == 202
    over = [USER, {"role": "user", "content": "x" * 10_001}]
    assert _locs(_post(world, thread_id, over)) == [["body", "messages", "1", "content"]]
    assert _locs(_post(world, thread_id, [{"role": "user", "content": ""}])) == [
        ["body", "messages", "0", "content"]
    ]


@pytest.mark.parametrize("role", ["robot", "USER", "", None])
def test_an_unknown_role_is_refused_by_field(world: World, role: Any) -> None:
    thread_id = _thread(world)
    locs = _locs(_post(world, thread_id, [USER, {"role": role, "content": "hi"}]))
    assert locs == [["body", "messages", "1", "role"]]


def test_every_role_is_accepted_and_a_missing_field_is_named(world: World) -> None:
    thread_id = _thread(world)
    messages = [{"role": r, "content": r} for r in ("system", "user", "assistant", "user")]
    assert _post(world, thread_id, messages).status_code == 202
    assert _locs(_post(world, thread_id, [{"role": "user"}])) == [
        ["body", "messages", "0", "content"]
    ]


def test_a_reply_streams_complete_with_citations_and_reads_back(world: World) -> None:
    thread_id, reply_id = ask(world.http, world.a.alice, "How do projections rebuild?")
    events = stream(world.http, world.a.alice, reply_id)
    text = check_sequence(events)
    assert events[0]["kind"] == "started"
    assert events[-1]["kind"] == "completed"
    assert events[-1]["text"] == text
    assert events[-1]["citations"]
    assert "Sources:" in text
    # Coalesced: far fewer chunk events than words.
    chunks = [e for e in events if e["kind"] == "chunk"]
    assert len(chunks) < len(text.split()) / 3
    thread = data(world.http.get(f"/assistant/threads/{thread_id}", headers=world.a.alice))
    assert [m["role"] for m in thread["messages"]] == ["user", "assistant"]
    assert thread["messages"][1]["content"] == text
    assert thread["messages"][1]["status"] == "completed"
    # Resuming from the middle gives exactly the rest.
    middle = len(events) // 2
    rest = stream(world.http, world.a.alice, reply_id, after=middle)
    assert rest == events[middle:]


def test_last_event_id_resumes_like_after(world: World) -> None:
    _, reply_id = ask(world.http, world.a.alice, "What is an event store?")
    events = stream(world.http, world.a.alice, reply_id)
    url = f"/assistant/replies/{reply_id}/events"
    headers = {**world.a.alice, "Last-Event-ID": "2"}
    with world.http.stream("GET", url, headers=headers) as got:
        assert parse_sse(got.read().decode()) == events[2:]


def test_threads_and_history_are_newest_first_in_cursor_pages(world: World) -> None:
    user = world.b.bob
    made = []
    for n in range(3):
        got = world.http.post("/assistant/threads", json={"title": f"t{n}"}, headers=user)
        made.append(data(got, 201)["thread_id"])
    first = world.http.get("/assistant/threads", params={"limit": 2}, headers=user).json()
    assert [t["title"] for t in first["data"]] == ["t2", "t1"]
    cursor = first["pagination"]["cursor"]
    second = world.http.get("/assistant/threads", params={"cursor": cursor}, headers=user).json()
    assert [t["title"] for t in second["data"]] == ["t0"]
    assert second["pagination"]["cursor"] is None
    # Another user's cursor is refused, not followed.
    foreign = world.http.get("/assistant/threads", params={"cursor": cursor}, headers=world.b.alice)
    assert foreign.status_code == 400
    # History: 55 messages read 50 then 5, newest first.
    thread_id = made[0]
    messages = [{"role": "user", "content": f"m{n}"} for n in range(50)]
    url = f"/assistant/threads/{thread_id}/messages"
    first_reply = data(world.http.post(url, json={"messages": messages}, headers=user), 202)
    wait_finished(world.http, user, first_reply["reply"]["reply_id"])
    more = [{"role": "user", "content": f"m{n}"} for n in range(50, 55)]
    reply = data(world.http.post(url, json={"messages": more}, headers=user), 202)
    wait_finished(world.http, user, reply["reply"]["reply_id"])
    page1 = world.http.get("/assistant/history", headers=user).json()
    assert len(page1["data"]) == 50
    contents = [m["content"] for m in page1["data"]]
    assert contents[1:6] == ["m54", "m53", "m52", "m51", "m50"]
    assert page1["data"][0]["role"] == "assistant"  # the last reply, newest of all
    page2 = world.http.get(
        "/assistant/history", params={"cursor": page1["pagination"]["cursor"]}, headers=user
    ).json()
    positions = [m["log_position"] for m in page1["data"] + page2["data"]]
    assert positions == sorted(positions, reverse=True)
    assert len(set(positions)) == len(positions)


def test_a_thread_is_its_users_only(world: World) -> None:
    thread_id, reply_id = ask(world.http, world.a.alice, "Who can read this?")
    for other in (world.a.bob, world.b.alice):
        assert world.http.get(f"/assistant/threads/{thread_id}", headers=other).status_code == 404
        assert world.http.get(f"/assistant/replies/{reply_id}", headers=other).status_code == 404
        events = world.http.get(f"/assistant/replies/{reply_id}/events", headers=other)
        assert events.status_code == 404
        posted = world.http.post(
            f"/assistant/threads/{thread_id}/messages", json={"messages": [USER]}, headers=other
        )
        assert posted.status_code == 404
        cancel = world.http.post(f"/assistant/replies/{reply_id}/cancel", headers=other)
        assert cancel.status_code == 404
    assert world.http.get("/assistant/threads").status_code == 401


def test_rename_and_delete(world: World) -> None:
    user = world.a.bob
    thread_id, reply_id = ask(world.http, user, "Rename me")
    wait_finished(world.http, user, reply_id)
    url = f"/assistant/threads/{thread_id}"
    assert (
        data(world.http.patch(url, json={"title": "Renamed"}, headers=user))["title"] == "Renamed"
    )
    listed = data(world.http.get("/assistant/threads", headers=user))
    assert any(t["title"] == "Renamed" for t in listed)
    assert world.http.patch(url, json={"title": ""}, headers=user).status_code == 422
    assert world.http.delete(url, headers=user).status_code == 204
    assert world.http.get(url, headers=user).status_code == 404
    listed = data(world.http.get("/assistant/threads", headers=user))
    assert all(t["thread_id"] != thread_id for t in listed)
    history = data(world.http.get("/assistant/history", headers=user))
    assert all(m["thread_id"] != thread_id for m in history)


def test_cancel_stops_the_reply_and_keeps_what_was_written(world: World) -> None:
    user = world.b.alice
    _, reply_id = ask(world.http, user, "Tell me about rate limits and budgets " * 5)
    cancelled = data(world.http.post(f"/assistant/replies/{reply_id}/cancel", headers=user))
    assert cancelled["status"] in ("cancelled", "completed")
    events = stream(world.http, user, reply_id)
    text = check_sequence(events)
    assert events[-1]["kind"] == cancelled["status"]
    final = wait_finished(world.http, user, reply_id)
    assert final["text"] == text
    # Nothing is written after the end, and a second cancel changes nothing.
    again = data(world.http.post(f"/assistant/replies/{reply_id}/cancel", headers=user))
    assert again["seq"] == events[-1]["seq"]
