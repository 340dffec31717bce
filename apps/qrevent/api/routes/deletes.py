"""Deletes: each records a tombstone through the bus; afterwards the thing answers 404."""

from __future__ import annotations

from fastapi import APIRouter, Response

from apps.qrevent.api.deps import Services, Store, context
from apps.qrevent.api.routes.families import load_family
from apps.qrevent.delete_commands import DeleteFamily
from apps.qrevent.domain.ids import FamilyId
from headwater.http import AUTH_ERRORS, NOT_FOUND, Staff

router = APIRouter(prefix="/api", tags=["qrevent: deletes"], responses=AUTH_ERRORS)


@router.delete(
    "/families/{family_id}",
    summary="Delete a family (its guests stay, without a family)",
    status_code=204,
    responses=NOT_FOUND,
)
async def delete_family(family_id: str, staff: Staff, services: Services, store: Store) -> Response:
    """Delete a family; its guests stay, without a family. A second delete is a 404."""
    # The read model answers "is it this tenant's?" (404 either way, never which).
    await load_family(store, staff.require_tenant(), family_id)
    await services.bus.send(DeleteFamily(family_id=FamilyId(family_id)), context(staff))
    return Response(status_code=204)
