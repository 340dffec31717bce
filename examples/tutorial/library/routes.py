"""Step 4: HTTP routes. Staff add and lend books; any signed-in user of the tenant reads.

The tenant is the caller's (from its credential), never a parameter: a book of
another tenant is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from headwater import CommandBus, CommandContext, EventStore, Principal
from headwater.http import AUTH_ERRORS, NOT_FOUND, AppRuntime, Envelope, SignedInUser, Staff, ok
from pydantic import BaseModel, Field

from library.commands import AddBook, LendBook, ReturnBook
from library.domain import BookId
from library.projections import list_books

router = APIRouter(prefix="/library", tags=["library"], responses=AUTH_ERRORS)


@dataclass(frozen=True)
class Library:
    """What the routes need from the running node (the module provides it at start)."""

    bus: CommandBus
    store: EventStore


def acting(principal: Principal) -> CommandContext:
    """Who acts and for which tenant: the bus writes both onto every event."""
    return CommandContext(actor=principal.subject, tenant_id=principal.require_tenant())


class NewBook(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    author: str = Field(min_length=1, max_length=200)


class Loan(BaseModel):
    to: str = Field(min_length=1, max_length=200)


@router.post("/books", status_code=201)
async def add_book(body: NewBook, staff: Staff, runtime: AppRuntime) -> Envelope[dict[str, str]]:
    command = AddBook(book_id=BookId.new(), title=body.title, author=body.author)
    result = await runtime.get(Library).bus.send(command, acting(staff))
    return ok({"book_id": result.value})


@router.post("/books/{book_id}/lend", responses=NOT_FOUND)
async def lend_book(
    book_id: str, body: Loan, staff: Staff, runtime: AppRuntime
) -> Envelope[dict[str, str]]:
    await runtime.get(Library).bus.send(
        LendBook(book_id=BookId(book_id), to=body.to), acting(staff)
    )
    return ok({"book_id": book_id, "lent_to": body.to})


@router.post("/books/{book_id}/return", responses=NOT_FOUND)
async def return_book(book_id: str, staff: Staff, runtime: AppRuntime) -> Envelope[dict[str, str]]:
    await runtime.get(Library).bus.send(ReturnBook(book_id=BookId(book_id)), acting(staff))
    return ok({"book_id": book_id})


@router.get("/books")
async def books(user: SignedInUser, runtime: AppRuntime) -> Envelope[list[dict[str, Any]]]:
    return ok(await list_books(runtime.get(Library).store, user.require_tenant()))
