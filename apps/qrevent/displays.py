"""Venue screens sign in as displays: read-only, one event, revocable, never staff.

A display is an account of the organizer's tenant with the ``anonymous`` role only
(so every route that needs a role, ``user`` and up, refuses it with 403) and the
display name ``display:<event_id>``, which the two places a display may read look
for: the leaderboard of that event's games (``GET /api/games/{id}/leaderboard``) and
the realtime topic ``leaderboard:{game_id}`` of the same games. Anything else of the
event, and every other event's board, is a 403 with the code ``display_only``.

Why an account and not a token of our own: its sign-in is the framework's (access
tokens of minutes, single-use refresh tokens spent by ``headwater.js`` before expiry,
the realtime socket re-authenticated on refresh), and revoking is disabling the
account, which ends its sessions at once on every node. The organizer hands out a
display *link*, whose fragment holds the account's email and its random password,
signed by ``itsdangerous`` (salt ``qrevent.display``) so the sign-in route accepts
only links this node made; the password is never shown anywhere else.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Final

from itsdangerous import BadSignature, URLSafeSerializer

from apps.qrevent.errors import DisplayOnly, NotInTenant
from headwater import Principal, Role
from headwater.errors import NotFound, Unauthorized
from headwater.eventstore import EventStore
from headwater.realtime import Channel, ChannelPolicy
from headwater.security import Security

#: The display name that marks a display account and names its one event.
PREFIX: Final = "display:"
#: Where display accounts' (unreachable) addresses live: never mailed.
DOMAIN: Final = "displays.qrevent.example"


def display_event(principal: Principal) -> str | None:
    """The event a display principal may show; None for anyone else (staff, guests)."""
    if not principal.is_authenticated or principal.roles != frozenset({Role.ANONYMOUS}):
        return None
    name = principal.display_name or ""
    return name.removeprefix(PREFIX) if name.startswith(PREFIX) else None


async def event_of_game(store: EventStore, tenant_id: str, game_id: str) -> str | None:
    row = await store.fetchone(
        "SELECT event_id FROM qe_games WHERE game_id = ? AND tenant_id = ?", (game_id, tenant_id)
    )
    return None if row is None else str(row[0])


async def require_display_of(store: EventStore, principal: Principal, game_id: str) -> None:
    """Lets a display read a game's board only if the game is its event's."""
    event_id = display_event(principal)
    if event_id is None:
        return
    tenant = principal.require_tenant()
    if await event_of_game(store, tenant, game_id) != event_id:
        raise DisplayOnly("this display shows its own event's leaderboards only")


def leaderboard_policy(store: EventStore, fallback: ChannelPolicy) -> ChannelPolicy:
    """``leaderboard:{game}``: whoever ``fallback`` allows, and a display of that game's event."""

    async def policy(principal: Principal, channel: Channel) -> bool:
        event_id = display_event(principal)
        if event_id is None:
            allowed = fallback(principal, channel)
            return allowed if isinstance(allowed, bool) else await allowed
        if principal.tenant_id is None or channel.key is None:
            return False
        return await event_of_game(store, principal.tenant_id, channel.key) == event_id

    return policy


@dataclass(frozen=True, slots=True)
class IssuedDisplay:
    display_id: str
    token: str


class Displays:
    def __init__(self, secret: str) -> None:
        self._links = URLSafeSerializer(secret, salt="qrevent.display")

    async def issue(
        self, security: Security, tenant_id: str, event_id: str, metadata: dict[str, Any]
    ) -> IssuedDisplay:
        password = secrets.token_urlsafe(24)
        email = f"display-{secrets.token_hex(8)}@{DOMAIN}"
        account = await security.create_account(
            tenant_id=tenant_id,
            email=email,
            password=password,
            roles=[Role.ANONYMOUS],
            tier="user",
            display_name=f"{PREFIX}{event_id}",
            metadata=metadata,
        )
        return IssuedDisplay(account.account_id, self._links.dumps([email, password]))

    async def revoke(
        self,
        security: Security,
        tenant_id: str,
        event_id: str,
        display_id: str,
        metadata: dict[str, Any],
    ) -> None:
        """Disables the display's account: its sessions end at once, its link stops."""
        try:
            record = await security.accounts.get_in_tenant(display_id, tenant_id)
        except NotFound:
            record = None
        if record is None or record.display_name != f"{PREFIX}{event_id}":
            raise NotInTenant("no such display", display_id=display_id)
        if not record.disabled:
            await security.disable(record, "display revoked by the organizer", metadata)

    def credentials(self, token: str) -> tuple[str, str]:
        """The email and password a display link carries; 401 for a link not made here."""
        try:
            payload = self._links.loads(token)
        except BadSignature:
            raise Unauthorized("this display link is not valid") from None
        if not (isinstance(payload, list) and len(payload) == 2):
            raise Unauthorized("this display link is not valid")
        email, password = payload
        if not (isinstance(email, str) and isinstance(password, str)):
            raise Unauthorized("this display link is not valid")
        return email, password
