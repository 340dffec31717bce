"""A venue screen's display credential: its event's leaderboards, over HTTP and
realtime, and nothing else (403 with a code); a link only this node made; revoked at
once. Against a real ``headwater serve`` with QR Event and realtime."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.sync.client import connect

from headwater.testing._server import RunningServer, serve
from tests.apps.qrevent.support import Organizer, organizer
from tests.apps.qrevent.test_games import QUESTIONS
from tests.apps.qrevent.test_leaderboard_push import APPS
from tests.apps.qrevent.test_story_server import ENV

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, httpx.Client]]:
    workdir = tmp_path_factory.mktemp("displays")
    url = f"sqlite:///{workdir / 'events.db'}"
    with (
        serve(url, workdir=Path(workdir), apps=APPS, env=ENV) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        yield server, http


def _game(org: Organizer, event_id: str) -> str:
    body = {"title": "Quiz", "questions": QUESTIONS}
    game_id: str = org.data(org.post(f"/api/events/{event_id}/games", body), 201)["game_id"]
    org.data(org.post(f"/api/games/{game_id}/status", {"status": "open"}))
    return game_id


def _link(org: Organizer, event_id: str, game_id: str) -> dict[str, Any]:
    made = org.post(f"/api/events/{event_id}/displays", {"game_id": game_id})
    return dict(org.data(made, 201))


def _sign_in(http: httpx.Client, link: dict[str, Any]) -> dict[str, Any]:
    token = link["url"].partition("#display=")[2]
    return dict(http.post("/api/displays/session", json={"display": token}).json()["data"])


def _frames_until(ws: Any, kind: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        frame = orjson.loads(ws.recv(timeout=deadline - time.monotonic()))
        if frame["type"] == kind:
            return dict(frame)
    raise AssertionError(f"no {kind} frame")


def test_a_display_reads_its_event_boards_and_is_refused_everything_else(
    node: tuple[RunningServer, httpx.Client],
) -> None:
    server, http = node
    org = organizer(http, "Display Hall")
    event_id, other_event = org.live_event(), org.live_event()
    game_id, other_game = _game(org, event_id), _game(org, other_event)
    link = _link(org, event_id, game_id)
    assert link["url"].startswith(f"/qrevent/screen?game={game_id}#display=")
    session = _sign_in(http, link)
    assert session["account"]["event_name"]
    as_display = {"authorization": f"Bearer {session['access_token']}"}

    board = http.get(f"/api/games/{game_id}/leaderboard", headers=as_display)
    assert board.status_code == 200, board.text
    refused = http.get(f"/api/games/{other_game}/leaderboard", headers=as_display)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "display_only")
    # Staff routes, reads and writes: 403 with a code, never a 5xx or a 200.
    for method, path, body in [
        ("GET", "/api/events", None),
        ("GET", f"/api/events/{event_id}", None),
        ("GET", f"/api/games/{game_id}", None),
        ("GET", f"/api/events/{event_id}/counts", None),
        ("POST", f"/api/events/{event_id}/displays", {"game_id": game_id}),
        ("POST", f"/api/games/{game_id}/status", {"status": "closed"}),
    ]:
        answer = http.request(method, path, json=body, headers=as_display)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["error"]["code"] == "forbidden", (path, answer.text)

    # Realtime: its event's boards only.
    with connect(f"{server.ws_url}/realtime/ws", additional_headers=as_display) as ws:
        assert _frames_until(ws, "welcome")["tenant_id"] == org.tenant.id
        for channel in (f"leaderboard:{other_game}", "tenant", f"stream:event-{event_id}"):
            ws.send(orjson.dumps({"type": "subscribe", "channel": channel}).decode())
            error = _frames_until(ws, "error")
            assert error["code"] in {"forbidden", "unknown_channel_kind"}, error
        ws.send(orjson.dumps({"type": "subscribe", "channel": f"leaderboard:{game_id}"}).decode())
        assert _frames_until(ws, "subscribed")["channel"] == f"leaderboard:{game_id}"


def test_a_forged_link_is_refused_and_a_revoked_display_is_signed_out(
    node: tuple[RunningServer, httpx.Client],
) -> None:
    _, http = node
    org = organizer(http, "Revoking Hall")
    event_id = org.live_event()
    game_id = _game(org, event_id)
    link = _link(org, event_id, game_id)
    token = link["url"].partition("#display=")[2]
    forged = f"{token[:-4]}AAAA"
    answer = http.post("/api/displays/session", json={"display": forged})
    assert answer.status_code == 401, answer.text

    session = _sign_in(http, link)
    # Another organizer cannot revoke it; this one can.
    stranger = organizer(http, "Other Hall")
    path = f"/api/events/{event_id}/displays/{link['display_id']}"
    assert http.delete(path, headers=stranger.staff).status_code == 404
    assert http.delete(path, headers=org.staff).status_code == 200
    refreshed = http.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert refreshed.status_code == 401, refreshed.text
    again = http.post("/api/displays/session", json={"display": token})
    assert again.status_code == 401, again.text
    as_display = {"authorization": f"Bearer {session['access_token']}"}
    deadline = time.monotonic() + 10  # the revocation cache's few seconds at most
    while time.monotonic() < deadline:
        status = http.get(f"/api/games/{game_id}/leaderboard", headers=as_display).status_code
        if status == 401:
            break
        time.sleep(0.3)
    assert status == 401
