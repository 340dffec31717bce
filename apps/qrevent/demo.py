"""A realistic event to try QR Event on: a wedding with families, guests, games and plays.

``python -m apps.qrevent.demo`` starts ``headwater serve`` on a fresh SQLite file,
seeds it through the HTTP API (as an organizer would) and prints the pages' URLs;
``--seed URL`` seeds a server that is already running (its bootstrap admin's
email and password in ``--admin``/``--password``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Marie",
    "Pierre",
    "Irene",
    "Emmy",
    "Hedy",
    "Katherine",
    "Dorothy",
    "Mary",
    "Annie",
    "Carl",
    "Niels",
    "Lise",
    "Max",
    "Rosalind",
    "Barbara",
    "Chien",
    "Tu",
]
LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Curie",
    "Noether",
    "Lamarr",
    "Johnson",
    "Vaughan",
    "Jackson",
    "Easley",
    "Gauss",
    "Bohr",
    "Meitner",
    "Planck",
    "Franklin",
    "McClintock",
    "Wu",
    "Youyou",
]
ADMIN = "admin@demo.example"
PASSWORD = "demo-password-1"
OWNER = "owner@mill-weddings.example"


def _question(qid: str, text: str, choices: list[str], answer: int) -> dict[str, Any]:
    return {"question_id": qid, "text": text, "choices": choices, "answer": answer}


QUIZ = [
    _question("q1", "Where did the couple meet?", ["Library", "Hackathon", "Train"], 1),
    _question("q2", "Ada's favourite number?", ["7", "42", "1815"], 2),
    _question("q3", "Bob's first computer?", ["ZX81", "C64", "Amiga"], 0),
]


class Api:
    """The HTTP API with the envelope unwrapped; any error stops the demo with its body."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.auth: dict[str, str] = {}

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        extra = {name.replace("_", "-"): value for name, value in headers.items()}
        response = self.http.request(method, path, json=body, headers={**self.auth, **extra})
        if response.status_code >= 400:
            raise SystemExit(f"{method} {path}: {response.text}")
        return response.json()["data"]

    def sign_in(self, email: str, password: str) -> None:
        tokens = self.call("POST", "/auth/login", {"email": email, "password": password})
        self.auth = {"authorization": f"Bearer {tokens['access_token']}"}


def _guests_csv(rng: random.Random, families: int) -> list[str]:
    lines = ["first_name,last_name,email,family"]
    for n in range(families):
        last = f"{rng.choice(LAST)}-{n}"
        for m in range(rng.randint(2, 5)):
            lines.append(f"{rng.choice(FIRST)},{last},{last.lower()}.{m}@guests.example,{last}")
    for n in range(40):
        lines.append(f"{rng.choice(FIRST)},{rng.choice(LAST)},solo{n}@guests.example,")
    return lines


def _invite_everyone(api: Api, event_id: str) -> list[str]:
    invite = f"/api/events/{event_id}/invitations"
    codes = []
    for family in api.call("GET", f"/api/events/{event_id}/families?limit=200"):
        codes.append(api.call("POST", invite, {"family_id": family["family_id"]})["code"])
    cursor = None
    while True:
        query = f"?limit=200{f'&cursor={cursor}' if cursor else ''}"
        page = api.http.get(f"/api/events/{event_id}/guests{query}", headers=api.auth).json()
        for guest in page["data"]:
            if guest["family_id"] is None:
                codes.append(api.call("POST", invite, {"guest_id": guest["guest_id"]})["code"])
        cursor = page["pagination"]["cursor"]
        if cursor is None:
            return codes


def _play(api: Api, rng: random.Random, event_id: str, codes: list[str]) -> list[str]:
    games = []
    for title, scoring in (("Who knows the couple?", "points"), ("Speed round", "speed")):
        body = {"title": title, "scoring": scoring, "questions": QUIZ}
        game_id = api.call("POST", f"/api/events/{event_id}/games", body)["game_id"]
        api.call("POST", f"/api/games/{game_id}/status", {"status": "open"})
        games.append(game_id)
        for code in codes[:60]:
            api.call("POST", f"/api/games/{game_id}/join", x_invitation=code)
            for question in QUIZ:
                choice = question["answer"] if rng.random() < 0.7 else 0
                answer = {"question_id": question["question_id"], "choice": choice}
                api.call("POST", f"/api/games/{game_id}/play", answer, x_invitation=code)
    return games


def seed(http: httpx.Client, admin: str, password: str, *, families: int = 80) -> dict[str, Any]:
    """Seed one organizer's wedding; returns the URLs and credentials to print."""
    rng = random.Random(7)  # the same demo every time
    api = Api(http)
    api.sign_in(admin, password)
    tenant = api.call("POST", "/admin/tenants", {"name": "Mill Weddings"})
    acting = api.call("POST", "/auth/act-as", {"tenant_id": tenant["id"]})
    api.auth = {"authorization": f"Bearer {acting['access_token']}"}
    staff_email = "door@mill-weddings.example"
    account = {"email": staff_email, "password": PASSWORD, "roles": ["staff"]}
    api.call("POST", "/accounts", account)
    # The organizer's own account: it signs in to the /admin dashboard.
    owner = {"email": OWNER, "password": PASSWORD, "roles": ["tenant_admin"]}
    api.call("POST", "/accounts", owner)
    api.sign_in(staff_email, PASSWORD)
    event = {"name": "Ada & Bob's wedding", "venue": "The Old Mill", "capacity": 400}
    event_id = api.call("POST", "/api/events", {**event, "gates": ["north", "garden"]})["event_id"]
    api.call("POST", f"/api/events/{event_id}/status", {"status": "published"})
    # Guests arrive by CSV, the way organizers have them: families by name, some solo.
    lines = _guests_csv(rng, families)
    started = api.call("POST", f"/api/events/{event_id}/imports", {"csv": "\n".join(lines)})
    while api.call("GET", f"/api/imports/{started['import_id']}")["status"] != "finished":
        time.sleep(0.1)
    codes = _invite_everyone(api, event_id)
    api.call("POST", f"/api/events/{event_id}/status", {"status": "live"})
    scans = [
        {"scan_id": f"demo-door:{n}", "code": code, "gate": rng.choice(["north", "garden"])}
        for n, code in enumerate(codes[: len(codes) * 2 // 3])
    ]
    api.call("POST", f"/api/events/{event_id}/scans/batch", {"scans": scans})
    games = _play(api, rng, event_id, codes)
    base = str(http.base_url).rstrip("/")
    return {
        "tenant_id": tenant["id"],
        "staff": f"{staff_email} / {PASSWORD}",
        "owner": f"{OWNER} / {PASSWORD}",
        "door": f"{base}/qrevent/door?event={event_id}",
        "screens": [f"{base}/qrevent/screen?game={g}" for g in games],
        "guests": [f"{base}/qrevent/i#{c}" for c in codes[:3]],
        "guests_total": len(lines) - 1,
        "invitations": len(codes),
    }


def _print(info: dict[str, Any]) -> None:
    print(f"QR Event demo: {info['guests_total']} guests, {info['invitations']} invitations")
    print(f"  staff sign-in : {info['staff']}")
    print(f"  door page     : {info['door']}")
    for url in info["screens"]:
        print(f"  screen        : {url}")
    for url in info["guests"]:
        print(f"  guest page    : {url}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", metavar="URL", help="seed this running server instead")
    parser.add_argument("--admin", default=ADMIN)
    parser.add_argument("--password", default=PASSWORD)
    parser.add_argument("--data-dir", default="var/qrevent-demo")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    args = parser.parse_args(argv)
    if args.seed:
        with httpx.Client(base_url=args.seed, timeout=60) as http:
            _print(seed(http, args.admin, args.password))
        return
    from headwater.testing import serve

    workdir = Path(args.data_dir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "qrevent.db").unlink(missing_ok=True)
    env = {
        "HEADWATER_AUTO_MIGRATE": "true",
        "HEADWATER_BOOTSTRAP_ADMIN_EMAIL": args.admin,
        "HEADWATER_BOOTSTRAP_ADMIN_PASSWORD": args.password,
        "HEADWATER_RATE_LIMITS": "false",  # the seeding itself would trip the play limits
        "HEADWATER_SECRET_KEY": uuid.uuid4().hex,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]), *sys.path]),
    }
    # SIGTERM as Ctrl-C: leaving the `with` below is what stops the server process.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    apps = [
        "apps.qrevent.module:realtime",
        "apps.qrevent.module:module",
    ]
    with serve(
        f"sqlite:///{workdir / 'qrevent.db'}",
        workdir=workdir,
        apps=apps,
        env=env,
        port=args.port or None,
    ) as server:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            _print(seed(http, args.admin, args.password))
        print("Serving; Ctrl-C to stop.")
        with contextlib.suppress(KeyboardInterrupt):
            server.process.wait()


if __name__ == "__main__":
    main()
