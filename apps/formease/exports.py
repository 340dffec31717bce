"""The CSV export a spreadsheet opens: one column per field, and no formula in any cell.

Columns: the submission's id, form, version, time and completion seconds, then one per
field of the versions the exported submissions were pinned to (in the form's field
order, the newest version's first; a field only an older version had follows). A field
key shared by two forms is one column. A field a submission's version did not have, or
that branching hid, is an empty cell.

Answers are respondents' text: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return would be run as a formula by Excel, LibreOffice or Sheets
(OWASP's "CSV injection"), so such a text is prefixed with ``'``, which they show as
text. Numbers answered as numbers are left as they are (``-3`` is a number, not a
formula). Quoting of commas, quotes and newlines is the ``csv`` module's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, Final

from apps.formease.domain.fields import ordered

FIXED: Final = ("submission_id", "form_id", "version", "submitted_at", "completion_seconds")
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
#: Rows per chunk written to the response: one network write per few hundred rows.
CHUNK: Final = 500


def field_columns(versions: Iterable[Mapping[str, Any]]) -> list[str]:
    """Field keys in column order, from versions' field maps given newest first."""
    columns: dict[str, None] = {}
    for fields in versions:
        for key, _spec in ordered(fields):
            columns.setdefault(key, None)
    return list(columns)


def neutralised(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def cell(value: Any) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, list):
        return neutralised("; ".join(str(v) for v in value))
    return neutralised(str(value))


def row_cells(row: Mapping[str, Any], fields: list[str]) -> list[str | int | float]:
    answers: Mapping[str, Any] = row["answers"]
    return [
        neutralised(str(row["submission_id"])),
        neutralised(str(row["form_id"])),
        int(row["version"]),
        row["submitted_at"].isoformat(),
        round(int(row["completion_ms"]) / 1000, 1),
        *(cell(answers.get(key)) for key in fields),
    ]


def _line(cells: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)  # RFC 4180 quoting, CRLF line ends
    return buffer.getvalue()


async def csv_stream(
    rows: AsyncIterator[Mapping[str, Any]], fields: list[str]
) -> AsyncIterator[bytes]:
    # A UTF-8 byte order mark: without it Excel reads the file as the machine's code page.
    yield ("\ufeff" + _line([*FIXED, *(cell(f) for f in fields)])).encode()
    chunk: list[str] = []
    async for row in rows:
        chunk.append(_line(row_cells(row, fields)))
        if len(chunk) >= CHUNK:
            yield "".join(chunk).encode()
            chunk = []
    if chunk:
        yield "".join(chunk).encode()
