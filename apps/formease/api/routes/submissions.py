"""Submissions: a keyset-paged list, and CSV / JSON exports with the same filters.

Exports stream: one keyset batch in memory at a time, written as it is read, so
100k rows cost the memory of one batch and no request holds a transaction open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from apps.formease import exports, queries
from apps.formease.api.deps import AppRuntime, FormEaseService, StaffActor
from apps.formease.domain.forms import Form
from apps.formease.service import FormEase
from headwater.http import (
    AUTH_ERRORS,
    BAD_REQUEST,
    MAX_INT64,
    NOT_FOUND,
    ListQuery,
    Page,
    list_query,
    page,
)

router = APIRouter(prefix="/formease/submissions", tags=["formease"], responses=AUTH_ERRORS)

#: A version filter past the column's range (BIGINT, SQLite's INTEGER) is a 422, not an
#: overflow in the driver.

EXPORT_COLUMNS = (
    "submission_id",
    "form_id",
    "owner_id",
    "version",
    "submitted_at",
    "completion_ms",
    "answers",
)


async def _checked(service: FormEase, tenant_id: str, filters: queries.SubmissionFilters) -> None:
    """A filter naming a form or user outside the caller's tenant is a 404, not an
    empty list: the answer must not differ from one about a form that never existed."""
    if filters.form_id is not None:
        await service.load_form(tenant_id, filters.form_id)
    if filters.owner_id is not None:
        await service.load_user(tenant_id, filters.owner_id)


async def _filters(
    form_id: str | None = Query(default=None, max_length=100),
    owner_id: str | None = Query(default=None, max_length=100),
    version: int | None = Query(default=None, ge=1, le=MAX_INT64),
    since: datetime | None = None,
    until: datetime | None = None,
) -> queries.SubmissionFilters:
    """The list's and the exports' filters, from the query string (one declaration)."""
    # Naive instants are read as UTC, so the comparison is the same on both backends.
    since = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since
    until = until.replace(tzinfo=UTC) if until and until.tzinfo is None else until
    return queries.SubmissionFilters(form_id, owner_id, version, since, until)


Filters = Annotated[queries.SubmissionFilters, Depends(_filters)]


@router.get(
    "",
    summary="List submissions (keyset pages, the exports' filters)",
    responses={**BAD_REQUEST, **NOT_FOUND},
)
async def list_submissions(
    actor: StaffActor,
    service: FormEaseService,
    runtime: AppRuntime,
    filters: Filters,
    query: Annotated[ListQuery, Depends(list_query(queries.SUBMISSION_SORTS))],
    cursor: str | None = Query(default=None, max_length=2000),
    limit: int = Query(default=50, ge=1, le=500),
) -> Page[dict[str, Any]]:
    await _checked(service, actor.tenant_id, filters)
    scope = f"fe-submissions:{actor.tenant_id}:{filters}"
    after = query.decode(runtime.cursors, scope, cursor)
    rows, key, total = await queries.page_submissions(
        service.store, actor.tenant_id, filters, query, after=after, limit=limit
    )
    next_cursor = query.encode(runtime.cursors, scope, key) if key else None
    items = [{**r, "submitted_at": r["submitted_at"].isoformat()} for r in rows]
    return page(items, cursor=next_cursor, limit=limit, total=total)


async def json_stream(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """A JSON array, written element by element: valid JSON, never built whole."""
    yield b"["
    first, chunk = True, []
    async for row in rows:
        item = {c: row[c] for c in EXPORT_COLUMNS}
        chunk.append((b"" if first else b",") + orjson.dumps(item, default=str))
        first = False
        if len(chunk) >= 500:
            yield b"".join(chunk)
            chunk = []
    chunk.append(b"]")
    yield b"".join(chunk)


@router.get(
    "/export.csv",
    summary="Export submissions as CSV: a column per field, formula-safe",
    response_class=StreamingResponse,
    responses=NOT_FOUND,
)
async def export_csv(
    actor: StaffActor,
    service: FormEaseService,
    filters: Filters,
) -> StreamingResponse:
    await _checked(service, actor.tenant_id, filters)
    pinned = await queries.submitted_versions(service.store, actor.tenant_id, filters)
    forms: dict[str, Form] = {}
    for form_id, _version in pinned:
        if form_id not in forms:
            forms[form_id] = await service.load_form(actor.tenant_id, form_id)
    fields = exports.field_columns(forms[f].version_of(v)["fields"] for f, v in pinned)
    rows = queries.iter_submissions(service.store, actor.tenant_id, filters)
    headers = {"content-disposition": 'attachment; filename="submissions.csv"'}
    return StreamingResponse(
        exports.csv_stream(rows, fields), media_type="text/csv; charset=utf-8", headers=headers
    )


@router.get(
    "/export.json",
    summary="Export submissions as one JSON array, streamed",
    response_class=StreamingResponse,
    responses=NOT_FOUND,
)
async def export_json(
    actor: StaffActor,
    service: FormEaseService,
    filters: Filters,
) -> StreamingResponse:
    await _checked(service, actor.tenant_id, filters)
    rows = queries.iter_submissions(service.store, actor.tenant_id, filters)
    headers = {"content-disposition": 'attachment; filename="submissions.json"'}
    return StreamingResponse(json_stream(rows), media_type="application/json", headers=headers)
