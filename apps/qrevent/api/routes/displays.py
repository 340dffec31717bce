"""Display links for venue screens: issued and revoked by staff, signed in by the screen.

See ``apps.qrevent.displays`` for what a display may read (its event's leaderboards,
over HTTP and realtime) and why it is an account with no role rather than staff.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from apps.qrevent.api.deps import Store, load_event
from apps.qrevent.displays import PREFIX, Displays, IssuedDisplay
from headwater import Runtime
from headwater.http import AUTH_ERRORS, NOT_FOUND, AppRuntime, Envelope, Staff, ok

router = APIRouter(prefix="/api", tags=["qrevent: displays"])
SCREEN_PATH = "/qrevent/screen"


class DisplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The game the link opens on (the display may show every game of the event).
    game_id: str = Field(min_length=1, max_length=100)


class DisplayView(BaseModel):
    display_id: str
    event_id: str
    game_id: str
    #: The screen's link: the credential is in the fragment, which no log sees.
    url: str


class DisplaySignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display: str = Field(min_length=10, max_length=1000)


def _displays(runtime: Runtime) -> Displays:
    # Only a serializer keyed by the node's secret: cheap, so made per call.
    return Displays(runtime.secret)


@router.post(
    "/events/{event_id}/displays",
    status_code=201,
    summary="Issue a display link for a venue screen (read-only: this event's leaderboards)",
    responses={**AUTH_ERRORS, **NOT_FOUND},
)
async def issue_display(
    event_id: str,
    body: DisplayIn,
    staff: Staff,
    store: Store,
    runtime: AppRuntime,
) -> Envelope[DisplayView]:
    tenant = staff.require_tenant()
    await load_event(store, tenant, event_id)
    issued: IssuedDisplay = await _displays(runtime).issue(
        runtime.require_security(), tenant, event_id, dict(staff.event_metadata())
    )
    url = f"{SCREEN_PATH}?game={body.game_id}#display={issued.token}"
    return ok(
        DisplayView(display_id=issued.display_id, event_id=event_id, game_id=body.game_id, url=url)
    )


@router.delete(
    "/events/{event_id}/displays/{display_id}",
    summary="Revoke a display link: the screen is signed out at once",
    responses={**AUTH_ERRORS, **NOT_FOUND},
)
async def revoke_display(
    event_id: str,
    display_id: str,
    staff: Staff,
    store: Store,
    runtime: AppRuntime,
) -> Envelope[dict[str, Any]]:
    tenant = staff.require_tenant()
    await load_event(store, tenant, event_id)
    await _displays(runtime).revoke(
        runtime.require_security(), tenant, event_id, display_id, dict(staff.event_metadata())
    )
    return ok({"display_id": display_id, "revoked": True})


@router.post(
    "/displays/session",
    summary="A venue screen signs in with its display link: tokens as /auth/login answers",
    responses={401: {"description": "Not a display link of this node, or revoked"}},
)
async def display_session(
    body: DisplaySignIn, runtime: AppRuntime, store: Store
) -> Envelope[dict[str, Any]]:
    email, password = _displays(runtime).credentials(body.display)
    pair = await runtime.require_security().login(email, password)
    account = pair.account
    event_id = (account.display_name or "").removeprefix(PREFIX)
    event = await load_event(store, account.tenant_id or "", event_id)
    return ok(
        {
            "access_token": pair.access_token,
            "token_type": "Bearer",
            "expires_in": pair.access.expires_at - pair.access.issued_at,
            "refresh_token": pair.refresh_token,
            # What the screen shows as its title: it may not read the event itself.
            "account": {
                "account_id": account.account_id,
                "event_id": event_id,
                "event_name": event["name"],
            },
        }
    )
