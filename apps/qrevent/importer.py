"""CSV import of guests: validate every row first, then write the good ones in batches.

No row is ever half-imported, and no import is imported twice: each row's guest
(and each new family) is written by a command whose id derives from the import id
and the row number, so a batch retried by the batch processor, or a whole import
resumed after a crash (``POST /api/imports/{id}/resume``), writes each row once.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from typing import Any, Final

from pydantic import BaseModel

from apps.qrevent.commands import CreateFamily, RegisterGuest
from apps.qrevent.domain.guest_import import GuestImport, ImportId
from apps.qrevent.domain.ids import FamilyId, GuestId
from headwater.domain import Command, CommandBus, CommandContext
from headwater.errors import InvalidInput
from headwater.jobs import BatchProcessor

COLUMNS: Final = ("first_name", "last_name", "email", "family")
REQUIRED: Final = ("first_name", "last_name")
MAX_ROWS: Final = 5_000
NAMESPACE: Final = uuid.UUID("b7f1c4c2-6a53-4a7e-9a38-2f3f4c3e9d10")


class ImportStep(Command[None], name="qrevent.ImportStep"):
    import_id: ImportId
    done: int


class FinishImport(Command[None], name="qrevent.FinishImport"):
    import_id: ImportId


class StartImport(Command[str], name="qrevent.StartImport"):
    import_id: ImportId
    event_id: str
    total: int
    rows: list[dict[str, Any]]
    families: dict[str, str]
    new_families: list[str]
    errors: list[dict[str, Any]]


class Parsed(BaseModel):
    total: int
    rows: list[dict[str, Any]]
    errors: list[dict[str, Any]]


def parse(text: str) -> Parsed:
    """Every row checked; a bad file (no header, unknown columns) is refused whole."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        raise InvalidInput(
            "the CSV header must name first_name, last_name and optionally email, family",
            missing=missing,
            unknown=unknown,
        )
    reader.fieldnames = header
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    emails: set[str] = set()
    total = 0
    try:
        for number, raw in enumerate(reader, start=2):
            total += 1
            if total > MAX_ROWS:
                raise InvalidInput(f"at most {MAX_ROWS} rows per import")
            row = {k: (v or "").strip() for k, v in raw.items() if k in COLUMNS}
            problems = list(_problems(row, emails, extra=None in raw))
            if problems:
                errors.append({"row": number, "errors": problems})
                continue
            if row.get("email"):
                emails.add(row["email"].lower())
            rows.append({"row": number, **row})
    except csv.Error as exc:
        raise InvalidInput(f"unreadable CSV: {exc}") from exc
    return Parsed(total=total, rows=rows, errors=errors)


def _problems(row: dict[str, str], emails: set[str], *, extra: bool) -> Iterator[str]:
    if extra:
        yield "more fields than the header names"
    for column in REQUIRED:
        if not row.get(column):
            yield f"{column} is missing"
        elif len(row[column]) > 100:
            yield f"{column} is longer than 100 characters"
    email = row.get("email", "")
    if email and ("@" not in email or len(email) > 254 or " " in email):
        yield "email is not an address"
    elif email and email.lower() in emails:
        yield "email appears on an earlier row"
    if len(row.get("family", "")) > 200:
        yield "family is longer than 200 characters"


def _derived(import_id: str, what: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{import_id}:{what}")


def _context(tenant: str, actor: str, import_id: str, what: str) -> CommandContext:
    return CommandContext(
        command_id=_derived(import_id, f"command:{what}"), actor=actor, tenant_id=tenant
    )


async def run(bus: CommandBus, tenant: str, actor: str, state: GuestImport) -> None:
    """Write the import's rows (again, harmlessly, when resumed) and record progress."""
    import_id = state.id.value
    for name in state.new_families:
        family = CreateFamily(
            family_id=FamilyId(state.families[name]), event_id=state.event_id, name=name
        )
        await bus.send(family, _context(tenant, actor, import_id, f"family:{name}"))
    done = 0

    async def write(batch: list[dict[str, Any]]) -> None:
        nonlocal done
        for row in batch:
            family_name = row.get("family") or None
            command = RegisterGuest(
                guest_id=GuestId(_derived(import_id, f"guest:{row['row']}")),
                event_id=state.event_id,
                first_name=row["first_name"],
                last_name=row["last_name"],
                email=row.get("email") or None,
                family_id=state.families[family_name] if family_name else None,
            )
            await bus.send(command, _context(tenant, actor, import_id, f"row:{row['row']}"))
        done += len(batch)
        step = ImportStep(import_id=ImportId(import_id), done=done)
        await bus.send(step, _context(tenant, actor, import_id, f"progress:{done}"))

    processor: BatchProcessor[dict[str, Any]] = BatchProcessor(write, size=100, max_wait=0.0)
    for row in state.rows:
        await processor.add(row)
    await processor.close()
    if processor.parked:
        # Left running: a resume retries exactly what is missing.
        raise processor.parked[0].error
    await bus.send(
        FinishImport(import_id=ImportId(import_id)), _context(tenant, actor, import_id, "finish")
    )


def register_import_handlers(bus: CommandBus) -> None:
    @bus.handler(StartImport, GuestImport)
    def start(c: StartImport, state: GuestImport) -> str:
        state.start(**c.model_dump(exclude={"import_id"}))
        return state.id.value

    @bus.handler(ImportStep, GuestImport)
    def step(c: ImportStep, state: GuestImport) -> None:
        state.progress(c.done)

    @bus.handler(FinishImport, GuestImport)
    def finish(c: FinishImport, state: GuestImport) -> None:
        state.finish()


def family_ids(import_id: str, names: set[str], existing: dict[str, str]) -> dict[str, str]:
    return {n: existing.get(n) or str(_derived(import_id, f"family-id:{n}")) for n in sorted(names)}
