"""The HTTP face of privacy: erase a subject, read and export the audit trail.

Thin on purpose: every decision is in ``erasure`` and ``audit``; this module only
checks the caller's role, scopes everything to the caller's own tenant (a tenant
admin can erase and audit only their tenant; the tenant never comes from the
body), and turns positions into signed cursors.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from headwater.cursors import EXACT_TOTAL_CAP, ListQuery, Sorts, Total
from headwater.errors import InvalidCursor
from headwater.http._deps import AUTH_ERRORS, AppRuntime, SignedInUser, TenantAdmin
from headwater.http._listing import list_query
from headwater.http._responses import Envelope, Page, ok, page
from headwater.privacy._audit import MAX_PAGE, AuditQuery, AuditTrail, to_csv
from headwater.privacy._erasure import MAX_SUBJECT_LENGTH, Eraser

AUDIT_ROUTE: Final = "/admin/api/audit"
AUDIT_CSV_ROUTE: Final = "/admin/api/audit.csv"
ERASE_ROUTE: Final = "/admin/api/privacy/erasures"
#: "Delete my data": the caller erases their own subject (``POST`` or ``DELETE /me``).
ERASE_ME_ROUTE: Final = "/me/erasure"

Text = Annotated[str | None, Query(max_length=255)]


class EraseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=MAX_SUBJECT_LENGTH)


#: The trail is a scan of the log, forwards: one sort, one order (others are a 400).
AUDIT_SORTS: Final = Sorts(
    {"position": "position"}, default="position", tiebreak="position", orders=("asc",)
)


async def _count(trail: AuditTrail, tenant: str, query: AuditQuery) -> Total:
    """Matching entries, counted by scanning: exact up to the cap, a lower bound past it."""
    counted, after = 0, 0
    while counted <= EXACT_TOTAL_CAP:
        found = await trail.page(tenant, query, after=after, limit=MAX_PAGE)
        counted += len(found.entries)
        if found.next_after is None:
            return Total(counted, True)
        after = found.next_after
    return Total(counted, False)


def _query(
    actor: str | None,
    stream: str | None,
    type: str | None,
    since: datetime | None,
    until: datetime | None,
) -> AuditQuery:
    return AuditQuery(
        actor=actor, stream_id=stream, types=(type,) if type else (), since=since, until=until
    )


def privacy_router(eraser: Callable[[], Eraser], trail: Callable[[], AuditTrail]) -> APIRouter:
    """Routes over the started node's eraser and trail (given as getters: both exist
    only once the module has started)."""
    router = APIRouter(tags=["privacy"], responses=AUTH_ERRORS)

    @router.get(AUDIT_ROUTE)
    async def audit_trail(
        admin: TenantAdmin,
        runtime: AppRuntime,
        listing: Annotated[ListQuery, Depends(list_query(AUDIT_SORTS))],
        actor: Text = None,
        stream: Text = None,
        type: Text = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    ) -> Page[dict[str, Any]]:
        """Who did what in the caller's tenant, oldest first, filtered and paged."""
        tenant = admin.require_tenant()
        query = _query(actor, stream, type, since, until)
        scope = listing.scope(f"{query.scope()}|{tenant}")
        after = 0
        if cursor is not None:
            key = runtime.cursors.decode(scope, cursor)
            if len(key) != 1 or isinstance(key[0], bool) or not isinstance(key[0], int):
                raise InvalidCursor("the cursor is not valid")
            after = key[0]
        result = await trail().page(tenant, query, after=after, limit=limit)
        next_cursor = (
            None
            if result.next_after is None
            else runtime.cursors.encode(scope, [result.next_after])
        )
        total = await _count(trail(), tenant, query) if listing.total else None
        return page(
            [e.to_json() for e in result.entries], cursor=next_cursor, limit=limit, total=total
        )

    @router.get(AUDIT_CSV_ROUTE, response_class=Response)
    async def audit_export(
        admin: TenantAdmin,
        actor: Text = None,
        stream: Text = None,
        type: Text = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Response:
        """The filtered trail of the caller's tenant as CSV."""
        tenant = admin.require_tenant()
        entries = [
            e async for e in trail().entries(tenant, _query(actor, stream, type, since, until))
        ]
        return Response(
            to_csv(entries),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )

    @router.post(ERASE_ROUTE)
    async def erase(admin: TenantAdmin, body: EraseBody) -> Envelope[dict[str, Any]]:
        """Erase a data subject of the caller's tenant (idempotent)."""
        result = await eraser().erase_subject(
            admin.require_tenant(), body.subject, actor=admin.subject
        )
        return ok(
            {
                "subject": result.subject,
                "position": result.position,
                "erasedNow": result.erased_now,
            }
        )

    async def erase_me(user: SignedInUser, runtime: AppRuntime) -> dict[str, Any]:
        tenant = user.require_tenant()
        subject = user.subject
        # The account is disabled first: were the erasure to fail after it, the person
        # is locked out and asks again (idempotent); never erased but still signed in.
        disabled = False
        security = runtime.security
        account = None if security is None else await security.accounts.get(subject)
        if security is not None and account is not None and account.tenant_id == tenant:
            if not account.disabled:
                metadata = {"actor": subject, "actor_kind": "self", "reason": "erasure"}
                await security.disable(account, "the person asked to be forgotten", metadata)
            disabled = True
        result = await eraser().erase_subject(tenant, subject, actor=subject)
        return {
            "subject": result.subject,
            "position": result.position,
            "erasedNow": result.erased_now,
            "accountDisabled": disabled,
            "message": (
                "Your personal data was erased: it now reads as its replacement values "
                "everywhere, and this account is closed."
            ),
        }

    @router.post(ERASE_ME_ROUTE, summary="Delete my data: erase the caller's own subject")
    async def erase_me_post(user: SignedInUser, runtime: AppRuntime) -> Envelope[dict[str, Any]]:
        """Erases the signed-in caller's personal data in their tenant, records who
        asked in the audit trail, and disables their account. Idempotent."""
        return ok(await erase_me(user, runtime))

    @router.delete("/me", summary="Delete my data (the same as POST /me/erasure)")
    async def erase_me_delete(user: SignedInUser, runtime: AppRuntime) -> Envelope[dict[str, Any]]:
        return ok(await erase_me(user, runtime))

    return router
