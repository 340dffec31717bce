"""A play posted over HTTP reaches a screen following ``leaderboard:{game_id}`` over WebSocket."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.sync.client import connect

from headwater.testing._server import serve
from tests.apps.qrevent.support import organizer
from tests.apps.qrevent.test_games import QUESTIONS
from tests.apps.qrevent.test_story_server import ENV

APPS = [
    "tests.http.routes.serve_app:module",
    "tests.apps.qrevent.realtime_app:module",
    "apps.qrevent.module:module",
]


def _topic(ws: Any, within: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        message = orjson.loads(ws.recv(timeout=deadline - time.monotonic()))
        if message["type"] == "topic":
            return dict(message)
    raise AssertionError("no leaderboard push")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite-file", "postgres"], indirect=True)
def test_a_play_is_pushed_to_the_leaderboard_channel(store_url: str, tmp_path: Path) -> None:
    with (
        serve(store_url, workdir=tmp_path, apps=APPS, env=ENV) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        org = organizer(http, "Screen Co")
        event_id = org.live_event()
        code = org.invite(event_id, guest_id=org.guest(event_id, "Katherine", "Johnson"))["code"]
        body = {"title": "Quiz", "questions": QUESTIONS}
        game_id = org.data(org.post(f"/api/events/{event_id}/games", body), 201)["game_id"]
        org.data(org.post(f"/api/games/{game_id}/status", {"status": "open"}))
        with connect(f"{server.ws_url}/realtime/ws", additional_headers=org.staff) as ws:
            assert orjson.loads(ws.recv(timeout=10))["type"] == "welcome"
            ws.send(
                orjson.dumps({"type": "subscribe", "channel": f"leaderboard:{game_id}"}).decode()
            )
            guest = {"x-invitation": code}
            org.data(http.post(f"/api/games/{game_id}/join", headers=guest))
            play = {"question_id": "q1", "choice": 1}
            org.data(http.post(f"/api/games/{game_id}/play", json=play, headers=guest))
            pushed = _topic(ws)
            while not pushed["data"]["top"] or pushed["data"]["top"][0]["score"] != 10:
                pushed = _topic(ws)
        assert pushed["channel"] == f"leaderboard:{game_id}"
        assert pushed["data"]["top"][0]["name"] == "Katherine J."
