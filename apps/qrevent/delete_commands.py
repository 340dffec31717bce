"""Deleting: commands that record a tombstone event; the read models drop the rows."""

from __future__ import annotations

from apps.qrevent.domain.ids import FamilyId
from apps.qrevent.domain.people import Family
from apps.qrevent.errors import NotInTenant
from headwater.domain import Command, CommandBus


class DeleteFamily(Command[None], name="qrevent.DeleteFamily"):
    family_id: FamilyId


def register_delete_handlers(bus: CommandBus) -> None:
    @bus.handler(DeleteFamily, Family)
    def delete_family(c: DeleteFamily, family: Family) -> None:
        if not family.exists or family.deleted:
            raise NotInTenant("no such family")
        family.delete()
