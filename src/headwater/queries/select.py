"""``Select``: a read-model query built from declared names and bound values.

::

    since = datetime.now(UTC) - timedelta(days=7)
    daily = (
        Select(SUBMISSIONS)
        .columns(day("created_at").as_("day"), count().as_("submissions"),
                 avg("completion_ms").as_("avg_ms"))
        .where(col("form_id") == form_id, col("created_at") >= since)
        .group_by(day("created_at"))
        .order_by("day")
    )
    rows = await daily.fetch(store)     # [{"day": date(...), "submissions": 3, ...}]

Pagination is by keyset (see :mod:`headwater.queries.cursor`): ``.after(cursor)``
continues after the last row of the previous page, so pages never skip or repeat a
row while the table changes, and cost the same at any depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from headwater.errors import InvalidInput, InvalidReadModel
from headwater.eventstore.protocol import Dialect, EventStore
from headwater.projections.columns import quote
from headwater.projections.readmodels import Table
from headwater.queries.expressions import (
    Aliased,
    And,
    Col,
    Compare,
    Condition,
    Expr,
    Or,
    result_decoder,
)

MAX_LIMIT: Final = 10_000


@dataclass(frozen=True, slots=True)
class Order:
    target: str | Expr
    direction: Literal["ASC", "DESC"]


def asc(target: str | Expr) -> Order:
    return Order(target, "ASC")


def desc(target: str | Expr) -> Order:
    return Order(target, "DESC")


@dataclass(frozen=True, slots=True)
class Select:
    """An immutable query on one table; every method returns a new ``Select``."""

    table: Table
    selected: tuple[Aliased, ...] = ()
    conditions: tuple[Condition, ...] = ()
    grouping: tuple[Expr, ...] = ()
    ordering: tuple[Order, ...] = ()
    row_limit: int | None = None
    tenant_id: str | None = None
    all_tenants: bool = False

    # --- building ------------------------------------------------------------------------

    def columns(self, *items: str | Expr | Aliased) -> Select:
        selected = []
        for item in items:
            if isinstance(item, Aliased):
                selected.append(item)
            else:
                expr = Col(item) if isinstance(item, str) else item
                selected.append(Aliased(expr, expr.default_name()))
        for item in selected:
            item.expr.kind(self.table)  # unknown columns fail here, not at run time
        names = [a.alias for a in selected]
        if len(set(names)) != len(names):
            raise InvalidReadModel(f"two selected values share a name: {names}")
        return replace(self, selected=tuple(selected))

    def where(self, *conditions: Condition) -> Select:
        for condition in conditions:
            if not isinstance(condition, Condition):
                raise InvalidInput(f"where() takes conditions, not {type(condition).__name__}")
            condition.render(self.table, "sqlite", [])  # validates names and values
        return replace(self, conditions=self.conditions + conditions)

    def group_by(self, *items: str | Expr) -> Select:
        exprs = tuple(Col(i) if isinstance(i, str) else i for i in items)
        for expr in exprs:
            expr.kind(self.table)
        return replace(self, grouping=self.grouping + exprs)

    def order_by(self, *items: str | Expr | Order) -> Select:
        orders = tuple(i if isinstance(i, Order) else Order(i, "ASC") for i in items)
        for order in orders:
            self._order_expr(order.target)
        return replace(self, ordering=self.ordering + orders)

    def limit(self, count: int) -> Select:
        if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= MAX_LIMIT:
            raise InvalidInput(f"limit must be an integer from 1 to {MAX_LIMIT}, not {count!r}")
        return replace(self, row_limit=count)

    def for_tenant(self, tenant_id: str) -> Select:
        if self.table.tenant_column is None:
            raise InvalidReadModel(f"table {self.table.name!r} is not tenant-scoped")
        if not isinstance(tenant_id, str) or not tenant_id:
            raise InvalidInput("tenant_id must be a non-empty string")
        return replace(self, tenant_id=tenant_id)

    def across_tenants(self) -> Select:
        """Read every tenant's rows: for admin and system code only, and said out loud."""
        return replace(self, all_tenants=True)

    def after(self, values: Sequence[Any]) -> Select:
        """Rows strictly after ``values`` in the current ordering (keyset pagination)."""
        if not self.ordering:
            raise InvalidReadModel("after() needs an order_by()")
        if len(values) != len(self.ordering):
            raise InvalidInput("a cursor must hold one value per ordering column")
        alternatives: list[Condition] = []
        for i, order in enumerate(self.ordering):
            column = self._keyset_column(order.target)
            equal = [
                self._keyset_column(o.target) == v
                for o, v in zip(self.ordering[:i], values, strict=False)
            ]
            op: Literal["<", ">"] = ">" if order.direction == "ASC" else "<"
            alternatives.append(And((*equal, Compare(column, op, values[i]))))
        return replace(self, conditions=(*self.conditions, Or(tuple(alternatives))))

    # --- compiling ------------------------------------------------------------------------

    def _order_expr(self, target: str | Expr) -> Expr:
        if isinstance(target, Expr):
            target.kind(self.table)
            return target
        for item in self.selected:
            if item.alias == target:
                return item.expr
        col = Col(target)
        col.kind(self.table)
        return col

    def _keyset_column(self, target: str | Expr) -> Col:
        expr = self._order_expr(target)
        if not isinstance(expr, Col):
            raise InvalidReadModel("keyset pagination orders by plain columns only")
        return expr

    def _all_conditions(self) -> tuple[Condition, ...]:
        tenant_column = self.table.tenant_column
        if tenant_column is None or self.all_tenants:
            return self.conditions
        if self.tenant_id is None:
            # Enforced here, below every route handler: a scoped table is never read
            # without a tenant unless the code says across_tenants().
            raise InvalidInput(f"table {self.table.name!r} is tenant-scoped: call for_tenant()")
        return (Col(tenant_column) == self.tenant_id, *self.conditions)

    def compile(self, dialect: Dialect) -> tuple[str, list[Any]]:
        params: list[Any] = []
        table = self.table
        items = self.selected or tuple(Aliased(Col(c), c) for c in table.columns)
        select = ", ".join(
            f"{a.expr.render(table, dialect, params)} AS {quote(a.alias)}" for a in items
        )
        sql = f"SELECT {select} FROM {table.ref}"
        conditions = self._all_conditions()
        if conditions:
            sql += " WHERE " + " AND ".join(c.render(table, dialect, params) for c in conditions)
        if self.grouping:
            sql += " GROUP BY " + ", ".join(g.render(table, dialect, params) for g in self.grouping)
        if self.ordering:
            parts = []
            for order in self.ordering:
                if isinstance(order.target, str) and any(a.alias == order.target for a in items):
                    rendered = quote(order.target)
                else:
                    rendered = self._order_expr(order.target).render(table, dialect, params)
                parts.append(f"{rendered} {order.direction}")
            sql += " ORDER BY " + ", ".join(parts)
        if self.row_limit is not None:
            sql += " LIMIT ?"
            params.append(self.row_limit)
        return sql, params

    def decoders(self) -> list[tuple[str, Any]]:
        items = self.selected or tuple(Aliased(Col(c), c) for c in self.table.columns)
        return [(a.alias, result_decoder(a.expr.kind(self.table))) for a in items]

    async def fetch(self, store: EventStore) -> list[dict[str, Any]]:
        sql, params = self.compile(store.dialect)
        decoders = self.decoders()
        # A reader connection, never the writer: a read must not queue behind appends.
        rows = await store.fetchall(sql, params)
        return [
            {name: decode(value) for (name, decode), value in zip(decoders, row, strict=True)}
            for row in rows
        ]
