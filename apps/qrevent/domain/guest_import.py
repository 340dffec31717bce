"""A CSV import of guests: what was accepted, what was refused and why, how far it got."""

from __future__ import annotations

from typing import Any, Literal

from headwater.domain import Aggregate, AggregateId, Event, when


class ImportId(AggregateId, prefix="qimport"):
    pass


class ImportStarted(Event, type="qrevent.ImportStarted"):
    event_id: str
    total: int
    #: The accepted rows, numbered as in the file (header = row 1).
    rows: list[dict[str, Any]]
    #: Family name -> family id: existing families reused, new ones created by the import.
    families: dict[str, str]
    new_families: list[str]
    errors: list[dict[str, Any]]


class ImportProgressed(Event, type="qrevent.ImportProgressed"):
    done: int


class ImportFinished(Event, type="qrevent.ImportFinished"):
    imported: int


class GuestImport(Aggregate[ImportId], type_name="qrevent.GuestImport"):
    event_id: str = ""
    total: int = 0
    rows: list[dict[str, Any]] = []
    families: dict[str, str] = {}
    new_families: list[str] = []
    errors: list[dict[str, Any]] = []
    done: int = 0
    status: Literal["none", "running", "finished"] = "none"

    def start(self, **fields: Any) -> None:
        if not self.exists:
            self.record(ImportStarted(**fields))

    def progress(self, done: int) -> None:
        # Batches may be retried: progress only moves forward.
        if done > self.done and self.status == "running":
            self.record(ImportProgressed(done=done))

    def finish(self) -> None:
        if self.status == "running":
            self.record(ImportFinished(imported=len(self.rows)))

    @when(ImportStarted)
    def _started(self, event: ImportStarted) -> None:
        self.event_id = event.event_id
        self.total = event.total
        self.rows = list(event.rows)
        self.families = dict(event.families)
        self.new_families = list(event.new_families)
        self.errors = list(event.errors)
        self.status = "running"

    @when(ImportProgressed)
    def _progressed(self, event: ImportProgressed) -> None:
        self.done = event.done

    @when(ImportFinished)
    def _finished(self, event: ImportFinished) -> None:
        self.done = event.imported
        self.status = "finished"
