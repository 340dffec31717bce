"""Panels: what an app adds to the admin dashboard, declared as data.

The dashboard's page is generic: it draws whatever panels the running modules
declare (``Module.admin_panels()``), each reading one of the app's own GET routes
with the signed-in admin's cookie session, so an app's panels obey the same
authentication, tenancy and rate limits as the rest of its API. Three kinds:

- ``table``: rows of ``source``'s ``data`` (a list), one column per ``Column``,
  with cursor paging when the source pages;
- ``chart``: one line per ``Series`` over ``source``'s ``data[rows]`` (a list of
  objects keyed by ``x``, an ISO date or datetime);
- ``reviews``: the conflict review queue; ``data`` lists reviews with a
  ``review_id``, and ``accept`` / ``reject`` are POST URL templates with
  ``{review_id}`` (reject takes ``{"reason": ...}``).

A table may declare ``RowAction`` buttons, one column of them per row (mute, retry...).
Any panel may declare ``Filter`` controls, sent as query parameters of ``source``.
``refresh_on`` names admin-feed events (``submission.received``...) after which the
panel reloads, so it follows the log without polling.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from headwater.errors import InvalidInput
from headwater.identity._principal import Role

PanelKind = Literal["table", "chart", "reviews"]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str


@dataclass(frozen=True, slots=True)
class Filter:
    """A query parameter of a table's ``source`` the page lets the admin set: a choice
    among ``options``, or free text when there are none."""

    key: str
    label: str
    options: tuple[str, ...] = ()
    #: Selected at first; with a default there is no "any" choice.
    default: str | None = None


@dataclass(frozen=True, slots=True)
class RowAction:
    """A button on each row of a table: ``method`` to ``url``, a path template whose
    ``{key}`` parts are the row's values; then the table reloads. With ``only_if``
    (key, value) the button shows on rows whose ``key`` reads as ``value``."""

    label: str
    url: str
    method: Literal["POST", "DELETE"] = "POST"
    only_if: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Series:
    key: str
    label: str
    #: Divides each value before drawing (e.g. 1000 to show milliseconds as seconds).
    scale: float = 1.0


@dataclass(frozen=True, slots=True)
class Panel:
    id: str
    title: str
    kind: PanelKind
    #: A same-origin GET route answering with the envelope (``{"data": ...}``).
    source: str
    columns: tuple[Column, ...] = ()
    #: Query parameters the admin sets (they override the source's own); a table
    #: whose source answers with ``pagination`` gets previous/next buttons too.
    filters: tuple[Filter, ...] = ()
    series: tuple[Series, ...] = ()
    #: For charts: the key of the x value, and where the rows are under ``data``.
    x: str = "date"
    rows: str = "days"
    refresh_on: tuple[str, ...] = ()
    #: Buttons on each row of a table.
    actions: tuple[RowAction, ...] = ()
    accept: str | None = None
    reject: str | None = None
    #: The least role that sees the panel (its route checks again).
    role: Role = Role.TENANT_ADMIN
    #: Which app declared it (set by the admin module).
    app: str = field(default="")

    def __post_init__(self) -> None:
        if not self.id.replace("-", "").replace("_", "").isalnum():
            raise InvalidInput(f"panel id {self.id!r}: letters, digits, '-' and '_' only")
        for url in (self.source, self.accept, self.reject, *(a.url for a in self.actions)):
            # Same-origin paths only: the page sends the admin's cookie with these.
            if url is not None and (not url.startswith("/") or url.startswith("//")):
                raise InvalidInput(f"panel {self.id!r}: {url!r} must be a path on this server")
        if self.kind == "table" and not self.columns:
            raise InvalidInput(f"table panel {self.id!r} needs columns")
        if self.kind == "chart" and not self.series:
            raise InvalidInput(f"chart panel {self.id!r} needs series")
        if self.kind == "reviews" and (self.accept is None or self.reject is None):
            raise InvalidInput(f"reviews panel {self.id!r} needs accept and reject URLs")

    def describe(self) -> dict[str, Any]:
        """The panel as the page reads it."""
        out = asdict(self)
        out["role"] = self.role.value
        return out
