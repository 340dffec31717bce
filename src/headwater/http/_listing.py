"""The web face of every list's ``sort``, ``order`` and ``total`` (``headwater.cursors``).

:func:`list_query` turns a list's declared :class:`~headwater.cursors.Sorts` into a
FastAPI dependency: the parameters appear in the OpenAPI document (``sort`` with
the allowed columns under ``x-sortable``), and a column the list does not declare is
a 400 ``unsupported_sort`` naming the ones it does.
"""

# No ``from __future__ import annotations``: FastAPI reads the dependency's
# parameter annotations at runtime, and they name this factory's locals.
from collections.abc import Callable
from typing import Annotated

from fastapi import Query

from headwater.cursors import ListQuery, Order, Sorts
from headwater.errors import UnsupportedSort


def list_query(sorts: Sorts) -> Callable[..., ListQuery]:
    """A FastAPI dependency parsing ``sort``, ``order`` and ``total`` for ``sorts``."""
    names = sorted(sorts.columns)

    def dependency(
        sort: Annotated[
            str | None,
            Query(
                max_length=64,
                description=f"Sort by one of: {', '.join(names)} (default {sorts.default})",
                json_schema_extra={"x-sortable": names, "x-default": sorts.default},
            ),
        ] = None,
        order: Annotated[
            Order | None,
            Query(
                description=f"{' or '.join(sorts.orders)} (default {sorts.order})",
                json_schema_extra={"x-orders": list(sorts.orders), "x-default": sorts.order},
            ),
        ] = None,
        total: Annotated[
            bool, Query(description="Add pagination.total (and totalExact) to the page")
        ] = False,
    ) -> ListQuery:
        chosen = sorts.default if sort is None else sort
        if chosen not in sorts.columns:
            raise UnsupportedSort(
                f"this list cannot be sorted by {chosen[:64]!r}; sort by one of: "
                + ", ".join(names),
                sort=chosen[:64],
                allowed=names,
            )
        chosen_order = order or sorts.order
        if chosen_order not in sorts.orders:
            raise UnsupportedSort(
                f"this list can only be read in {' or '.join(sorts.orders)} order",
                order=chosen_order,
                allowed=list(sorts.orders),
            )
        return ListQuery(sorts=sorts, sort=chosen, order=chosen_order, total=total)

    return dependency
