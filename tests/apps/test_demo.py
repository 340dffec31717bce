"""``make demo`` as a user runs it: a real server, seeded through the API, serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_demo_serves_the_apps_with_demo_data(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "apps.demo",
            "--data-dir",
            str(tmp_path),
            "--port",
            "0",
            "--submissions",
            "2000",
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        assert demo.stdout is not None
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Serving"):
                break
        output = "".join(lines)
        assert "Serving" in output, output
        urls = [w for w in output.split() if w.startswith("http://127.0.0.1:")]
        assert urls, output
        base = "/".join(urls[0].split("/")[:3])
        assert httpx.get(f"{base}/readyz", timeout=10).json()["status"] == "ready"
        # The demo seeded real data: a page of the seeded event's guests exists.
        assert any("/qrevent/" in url for url in urls), output
        assert "FormEase demo: 50 users" in output, output
        assert "submissions over 90 days" in output, output
        # The printed dashboard login opens the dashboard, with FormEase's panels on it.
        line = next(line for line in lines if "dashboard" in line)
        email, password = line.split("sign in as ")[1].rstrip(")\n").split(" / ")
        with httpx.Client(base_url=base, timeout=10) as browser:
            session = browser.post("/auth/session", json={"email": email, "password": password})
            assert session.status_code == 200, session.text
            assert browser.get("/admin").status_code == 200
            overview = browser.get("/admin/api/overview").json()["data"]
        assert "formease-user-stats" in {panel["id"] for panel in overview["panels"]}
        # The tenant admin's login comes first, before any app's lines.
        first_app = min(i for i, text in enumerate(lines) if text.startswith("QR Event"))
        assert lines.index(line) < first_app
        assert "rate limits on" in output
        _the_printed_links_show_the_whole_flow(base, lines)
    finally:
        demo.send_signal(signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
        if demo.stdout is not None:
            demo.stdout.close()


def _printed(lines: list[str], label: str) -> str:
    line = next(text for text in lines if text.strip().startswith(label))
    return line.split(" : ", 1)[1].split()[0]


def _the_printed_links_show_the_whole_flow(base: str, lines: list[str]) -> None:
    """Scan the printed guest's code at the printed door, answer on the guest's behalf,
    and the printed screen's leaderboard moves; the printed public form opens and takes
    an answer without an account. All with the rate limits on."""
    code = _printed(lines, "guest page").split("#", 1)[1]
    event_id = _printed(lines, "door page").split("event=")[1]
    game_id = _printed(lines, "screen").split("game=")[1].split("#")[0]
    door_line = next(text for text in lines if text.strip().startswith("door sign-in"))
    email, password = door_line.split(" : ", 1)[1].strip().split(" / ")
    with httpx.Client(base_url=base, timeout=10) as http:
        token = http.post("/auth/login", json={"email": email, "password": password})
        staff = {"authorization": f"Bearer {token.json()['data']['access_token']}"}
        board = f"/api/games/{game_id}/leaderboard"
        before = http.get(board, headers=staff).json()["data"]
        scan = {"scan_id": "demo-test-1", "code": code, "gate": "main"}
        admitted = http.post(f"/api/events/{event_id}/scans", json=scan, headers=staff)
        assert admitted.status_code == 200, admitted.text
        result = admitted.json()["data"]
        assert result["decision"] == "admitted", result  # unused: no "already inside"
        assert len(result["guest_ids"]) == 3  # the Lovelace family
        guest = {"x-invitation": code}
        home = http.get("/api/me", headers=guest).json()["data"]
        assert home["event_id"] == event_id
        assert http.post(f"/api/games/{game_id}/join", headers=guest).status_code == 200
        answer = {"question_id": "q1", "choice": 1}
        played = http.post(f"/api/games/{game_id}/play", json=answer, headers=guest)
        assert played.status_code == 200, played.text
        after = http.get(board, headers=staff).json()["data"]
        assert after != before
        # The public form: opened and answered with no account at all.
        link = _printed(lines, "public form").split("#", 1)[1]
        opened = http.post(f"/formease/public/{link}/open")
        assert opened.status_code == 201, opened.text
        session = {"x-form-session": opened.json()["data"]["session"]}
        reply = {"answers": {"name": "Test", "came": "car", "parking": 5}}
        sent = http.post(f"/formease/public/{link}/submissions", json=reply, headers=session)
        assert sent.status_code == 201, sent.text
        # The assistant's printed chat page opens; its sign-in asks and gets a whole reply.
        chat = _printed(lines, "chat page")
        assert http.get(chat).status_code == 200
        chat_line = next(text for text in lines if text.strip().startswith("chat page"))
        email, password = chat_line.split("sign in as ")[1].rstrip(")\n").split(" / ")
        token = http.post("/auth/login", json={"email": email, "password": password})
        owner = {"authorization": f"Bearer {token.json()['data']['access_token']}"}
        ask = {"messages": [{"role": "user", "content": "How do projections rebuild?"}]}
        made = http.post("/assistant/threads", json=ask, headers=owner)
        assert made.status_code == 201, made.text
        events = f"/assistant/replies/{made.json()['data']['reply']['reply_id']}/events"
        with http.stream("GET", events, headers=owner, timeout=60) as streamed:
            assert "event: completed" in streamed.read().decode()
