"""Public links: staff share a published form; anyone holding the link answers it.

Staff routes create (or replace), show and revoke a form's one link. The respondent's
routes need no account: the link's token in the path is the credential, and the open
session's token travels in ``X-Form-Session`` (a header, so the rate limiter can count
each respondent by it: many respondents share one school's or office's address). The
page itself, ``/formease/respond#<link token>``, keeps the token in the fragment, which
no server log, proxy or ``Referer`` ever sees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from apps.formease.api.deps import IdempotencyKey, StaffActor
from apps.formease.api.models import PublicSubmission, PublicViews
from apps.formease.public_links import PublicLinks
from headwater.errors import NotFound, StoreUnavailable
from headwater.http import (
    AUTH_ERRORS,
    BAD_REQUEST,
    CLIENT_ASSETS,
    NOT_FOUND,
    Envelope,
    StaticAssets,
    ok,
    runtime_of,
)

PAGES: Final = Path(__file__).resolve().parents[2] / "pages"
ASSETS: Final = StaticAssets(PAGES / "static", prefix="/formease/respond/static")
PAGE: Final = ASSETS.page(PAGES / "respond.html", shared=[CLIENT_ASSETS])
#: Staff's form editor (``/formease/edit?form=<id>``): signs in, edits offline too.
EDITOR: Final = ASSETS.page(PAGES / "edit.html", shared=[CLIENT_ASSETS])
#: Where a link opens; the token follows in the fragment.
RESPOND_PATH: Final = "/formease/respond"
SESSION_HEADER: Final = "X-Form-Session"


async def get_links(request: Request) -> PublicLinks:
    links = runtime_of(request).find(PublicLinks)
    if links is None:
        raise StoreUnavailable("the FormEase module is not started")
    return links


Links = Annotated[PublicLinks, Depends(get_links)]
Session = Annotated[
    str,
    Header(
        alias=SESSION_HEADER,
        min_length=10,
        max_length=200,
        description="The session token the open answered",
    ),
]
LINK_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    **BAD_REQUEST,
    404: {"description": "No such link: never made, revoked, replaced, or forged"},
    429: {"description": "Too many requests on this link or from this respondent"},
}

staff = APIRouter(prefix="/formease/forms", tags=["formease: public links"], responses=AUTH_ERRORS)
public = APIRouter(prefix="/formease", tags=["formease: respondents"])


def _link(token: str) -> dict[str, str]:
    return {"token": token, "url": f"{RESPOND_PATH}#{token}"}


@staff.post(
    "/{form_id}/public-link",
    status_code=201,
    summary="Share a published form by a public link (replaces its current link)",
    responses={**NOT_FOUND, **BAD_REQUEST},
)
async def create_link(
    form_id: str, actor: StaffActor, links: Links, key: IdempotencyKey = None
) -> Envelope[dict[str, str]]:
    """Anyone holding the link may open and submit the form without an account. A form
    has one link: making a new one revokes the old (for a link that leaked)."""
    return ok(_link(await links.create(actor.context(key, "public-link"), form_id)))


@staff.get(
    "/{form_id}/public-link",
    summary="The form's current public link",
    responses={404: {"description": "No such form, or it has no public link"}},
)
async def show_link(form_id: str, actor: StaffActor, links: Links) -> Envelope[dict[str, str]]:
    token = await links.current(actor.tenant_id, form_id)
    if token is None:
        raise NotFound("this form has no public link", form_id=form_id)
    return ok(_link(token))


@staff.delete(
    "/{form_id}/public-link",
    summary="Revoke the form's public link: it answers 404 from now on",
    responses=NOT_FOUND,
)
async def revoke_link(form_id: str, actor: StaffActor, links: Links) -> Envelope[dict[str, Any]]:
    await links.revoke(actor.context(None, "revoke-link"), form_id)
    return ok({"form_id": form_id, "revoked": True})


@public.get(RESPOND_PATH.removeprefix("/formease"), include_in_schema=False)
async def respond_page(request: Request) -> Response:
    return PAGE.response(request)


@public.get("/edit", include_in_schema=False)
async def editor_page(request: Request) -> Response:
    return EDITOR.response(request)


@public.get("/sw.js", include_in_schema=False)
async def service_worker() -> Response:
    """The respondent page's service worker, at this path so its scope is
    ``/formease/``: a shim loading the framework's (see headwater's ``offline.js``)."""
    return Response(
        f'importScripts("{CLIENT_ASSETS.url("offline.js")}");\n',
        media_type="text/javascript",
        headers={"cache-control": "no-cache"},
    )


@public.get("/respond/static/{name:path}", include_in_schema=False)
async def respond_asset(request: Request, name: str) -> Response:
    return ASSETS.response(request, name)


@public.post(
    "/public/{link}/open",
    status_code=201,
    summary="Open a form by its public link (no account): its fields and a session",
    responses=LINK_ERRORS,
)
async def open_public(link: str, links: Links) -> Envelope[dict[str, Any]]:
    """Pins the latest published version and starts the completion clock; send the
    answered ``session`` back as ``X-Form-Session``."""
    return ok(await links.open(link))


@public.post(
    "/public/{link}/views",
    summary="Report the fields a respondent on a public link was shown",
    responses=LINK_ERRORS,
)
async def views_public(
    link: str, body: PublicViews, session: Session, links: Links
) -> Envelope[dict[str, bool]]:
    await links.view(link, session, body.fields)
    return ok({"recorded": True})


@public.post(
    "/public/{link}/submissions",
    status_code=201,
    summary="Submit the answers of a session opened by a public link",
    responses={
        **LINK_ERRORS,
        403: {"description": "The form owner's plan allows no more submissions this month"},
        409: {"description": "This session was submitted already, with other answers"},
    },
)
async def submit_public(
    link: str, body: PublicSubmission, session: Session, links: Links
) -> Envelope[dict[str, Any]]:
    """Validated as any submission is, against the session's pinned version; sending the
    same answers again answers the first submission (a retry is safe)."""
    submission = await links.submit(link, session, body.answers)
    return ok(submission.model_dump(mode="json", exclude={"answers"}))
