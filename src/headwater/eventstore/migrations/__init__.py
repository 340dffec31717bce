"""Versioned plain-SQL migrations.

Each component (the event store, and later read models, jobs...) keeps numbered
files ``NNNN_name.sql`` in a folder per dialect. Applied versions are recorded in
``hw_migrations``; a migration and its record commit in one transaction, so a
crash mid-migration leaves nothing half-applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal

Dialect = Literal["sqlite", "postgresql"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS hw_migrations (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (component, version)
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str


def load_migrations(package: str, component: str, dialect: Dialect) -> list[Migration]:
    """The migrations shipped in ``package``/``dialect``/, in version order."""
    folder = resources.files(package).joinpath(dialect)
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        found.append(
            Migration(component, int(match.group(1)), match.group(2), entry.read_text("utf-8"))
        )
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{package}/{dialect}: migrations must be numbered 1..n, got {versions}")
    return found


def event_store_migrations(dialect: Dialect) -> list[Migration]:
    return load_migrations(__name__, "eventstore", dialect)
