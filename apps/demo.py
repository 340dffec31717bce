"""``make demo``: the reference apps, served on the embedded default (SQLite) with demo data.

Two phases on one fresh SQLite file:

1. **Seeding**, on a server of its own with rate limits off (the path that is not
   throttled: it is seeded as an organizer would, through the API, but thousands of
   plays in a minute are not what the limits are sized for). It seeds a *finished*
   wedding with its history (families, scans, two played games, then closed), a
   *live* party tonight whose invitations are all unused and whose quiz is open, and
   FormEase: users, versioned forms and thousands of submissions over 90 days, plus a
   published form with branching and a public link.
2. **Serving**, with rate limits on, as a deployment runs: the printed links show the
   whole flow (the guest link's QR code scanned on the door page admits the family,
   the guest answers, the screen's leaderboard moves; the public link opens the form
   on a phone without an account).

The tenant admin's login is printed first: it signs in to ``/admin`` with every panel
filled. Serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from apps.formease.demo import seed as seed_formease
from apps.formease.projections import PROJECTIONS as FORMEASE_PROJECTIONS
from apps.qrevent.demo import ADMIN, OWNER, PASSWORD, QUIZ, Api
from apps.qrevent.demo import seed as seed_qrevent
from headwater.eventstore import create_event_store
from headwater.projections import attach_inline
from headwater.testing import serve

APPS = [
    "apps.formease.module:realtime",  # the hub, with FormEase's admin event names
    "apps.qrevent.module:module",
    "apps.formease.module:module",
    "apps.assistant.module:module",
]
STAFF = "door@mill-weddings.example"  # made by the QR Event seed
#: Tonight's guests: (family name or None, [(first, last)]). The first family's link
#: is the one printed.
TONIGHT = [
    ("Lovelace", [("Alice", "Lovelace"), ("Ada", "Lovelace"), ("Byron", "Lovelace")]),
    ("Turing", [("Alan", "Turing"), ("Ethel", "Turing")]),
    (None, [("Grace", "Hopper")]),
    (None, [("Katherine", "Johnson")]),
    (None, [("Hedy", "Lamarr")]),
]
SURVEY_FIELDS: dict[str, dict[str, Any]] = {
    "name": {"type": "text", "label": "Your name", "required": True, "order": 1},
    "came": {
        "type": "choice",
        "label": "How did you get to the party?",
        "required": True,
        "order": 2,
        "options": ["car", "bike", "train", "on foot"],
    },
    "parking": {
        "type": "rating",
        "label": "How was the parking?",
        "required": True,
        "order": 3,
        "show_if": {"field": "came", "equals": "car"},
    },
    "again": {"type": "boolean", "label": "Would you come again?", "order": 4},
    "note": {"type": "text", "label": "Anything else?", "order": 5, "max_length": 500},
}


def _seed_tonight(api: Api) -> dict[str, str]:
    """A live event with unused invitations and an open quiz; paths, not URLs."""
    event = {"name": "Ada & Bob's party tonight", "venue": "The Old Mill", "capacity": 80}
    event_id = api.call("POST", "/api/events", {**event, "gates": ["main"]})["event_id"]
    api.call("POST", f"/api/events/{event_id}/status", {"status": "published"})
    codes = []
    for family, people in TONIGHT:
        family_id = None
        if family is not None:
            made = api.call("POST", f"/api/events/{event_id}/families", {"name": family})
            family_id = made["family_id"]
        guest_ids = [
            api.call(
                "POST",
                f"/api/events/{event_id}/guests",
                {"first_name": first, "last_name": last, "family_id": family_id},
            )["guest_id"]
            for first, last in people
        ]
        target = {"family_id": family_id} if family_id else {"guest_id": guest_ids[0]}
        codes.append(api.call("POST", f"/api/events/{event_id}/invitations", target)["code"])
    api.call("POST", f"/api/events/{event_id}/status", {"status": "live"})
    quiz = {"title": "Tonight's quiz", "scoring": "points", "questions": QUIZ}
    game_id = api.call("POST", f"/api/events/{event_id}/games", quiz)["game_id"]
    api.call("POST", f"/api/games/{game_id}/status", {"status": "open"})
    # The venue screen's own read-only credential: the link signs it in, not as staff.
    display = api.call("POST", f"/api/events/{event_id}/displays", {"game_id": game_id})
    return {
        "guest": f"/qrevent/i#{codes[0]}",
        "door": f"/qrevent/door?event={event_id}",
        "screen": str(display["url"]),
    }


def _finish(api: Api) -> None:
    """Close the seeded wedding: a finished event with its history to look back on."""
    for event in api.call("GET", "/api/events?limit=100"):
        if event["name"] == "Ada & Bob's wedding" and event["status"] != "closed":
            api.call("POST", f"/api/events/{event['event_id']}/status", {"status": "closed"})


def _seed_survey(api: Api) -> str:
    """A published FormEase form with branching, shared by a public link; its path."""
    user = {"email": "organizer@mill-weddings.example", "name": "Mill Weddings", "plan": "premium"}
    user_id = api.call("POST", "/formease/users", user)["user_id"]
    made = api.call("POST", f"/formease/users/{user_id}/forms", {"title": "How was the party?"})
    form_id = made["form_id"]
    api.call("PATCH", f"/formease/forms/{form_id}", {"set_fields": SURVEY_FIELDS})
    api.call("POST", f"/formease/forms/{form_id}/publish")
    return str(api.call("POST", f"/formease/forms/{form_id}/public-link")["url"])


async def _seed_formease(url: str, tenant_id: str, submissions: int) -> str:
    async with await create_event_store(url) as store:
        await attach_inline(store, FORMEASE_PROJECTIONS)
        seeded = await seed_formease(store, tenant_id, users=50, submissions=submissions)
    return (
        f"FormEase demo: {len(seeded.users)} users, {len(seeded.forms)} forms, "
        f"{seeded.submissions} submissions over 90 days"
    )


def _seed(url: str, workdir: Path, env: dict[str, str], submissions: int) -> dict[str, Any]:
    """Phase 1, on a server of its own with the limits off; returns what to print."""
    seeding = {**env, "HEADWATER_RATE_LIMITS": "false"}
    with (
        serve(url, workdir=workdir, apps=APPS, env=seeding) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        wedding = seed_qrevent(http, ADMIN, PASSWORD)
        api = Api(http)
        api.sign_in(STAFF, PASSWORD)
        _finish(api)
        tonight = _seed_tonight(api)
        api.sign_in(OWNER, PASSWORD)
        survey = _seed_survey(api)
        formease = asyncio.run(_seed_formease(url, wedding["tenant_id"], submissions))
    history = str(wedding["screens"][0]).removeprefix(server.url)
    return {**tonight, "history": history, "survey": survey, "formease": formease}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default="var/demo")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--submissions", type=int, default=5000)
    args = parser.parse_args(argv)

    workdir = Path(args.data_dir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    env = {
        "HEADWATER_AUTO_MIGRATE": "true",
        "HEADWATER_BOOTSTRAP_ADMIN_EMAIL": ADMIN,
        "HEADWATER_BOOTSTRAP_ADMIN_PASSWORD": PASSWORD,
        # Plain HTTP on this machine: a Secure cookie would not come back from a LAN address.
        "HEADWATER_COOKIE_SECURE": "false",
        # One key for both phases: the invitation codes seeded are signed with it.
        "HEADWATER_SECRET_KEY": uuid.uuid4().hex,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), *sys.path]),
    }
    print("Seeding the demo (QR Event, FormEase)…", flush=True)
    seeded = _seed(url, workdir, env, args.submissions)
    # SIGTERM as Ctrl-C: leaving the `with` below is what stops the server process.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    serving = {**env, "HEADWATER_RATE_LIMITS": "true"}
    with serve(url, workdir=workdir, apps=APPS, env=serving, port=args.port or None) as server:
        base = server.url
        print(f"Headwater demo on {base} (rate limits on)")
        print(f"  dashboard     : {base}/admin  (sign in as {OWNER} / {PASSWORD})")
        print("QR Event, tonight's party (live; every invitation unused):")
        print(f"  door page     : {base}{seeded['door']}")
        print(f"  door sign-in  : {STAFF} / {PASSWORD}")
        print(f"  guest page    : {base}{seeded['guest']}  (the Lovelace family, 3 guests)")
        print(f"  screen        : {base}{seeded['screen']}  (a display link: no sign-in)")
        print("  try it        : show the guest page's QR code to the door page's camera (or")
        print("                  paste the code after '#'), answer on the guest page, and")
        print("                  watch the screen's leaderboard move")
        print(f"QR Event, last month's wedding (closed): {base}{seeded['history']}")
        print(seeded["formease"])
        print(f"  public form   : {base}{seeded['survey']}  (no account needed)")
        print(f"  user stats    : {base}/formease/admin/user-stats")
        print(f"  form metrics  : {base}/formease/admin/form-metrics")
        print("Assistant (offline: answers from the docs, with citations; reload mid-reply):")
        print(f"  chat page     : {base}/assistant/chat  (sign in as {OWNER} / {PASSWORD})")
        print(f"  API docs      : {base}/docs")
        print(f"  platform admin: {ADMIN} / {PASSWORD}")
        print("Serving; Ctrl-C to stop.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.process.wait()


if __name__ == "__main__":
    main()
