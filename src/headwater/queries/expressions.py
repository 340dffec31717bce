"""The pieces of a query: column references, conditions, aggregates, day buckets.

Nothing here holds SQL text from a caller. An expression is a small tree of
declared names and Python values; it renders to SQL only against a :class:`Table`,
which rejects undeclared columns, and every value becomes a bound parameter
(encoded for the column it is compared with). Injection is impossible by
construction, not by escaping.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from headwater.errors import InvalidReadModel
from headwater.eventstore.protocol import Dialect
from headwater.projections.columns import (
    DATE,
    INTEGER,
    REAL,
    ColumnType,
    check_identifier,
    decoder,
    quote,
)
from headwater.projections.readmodels import Table

#: How a rendered expression decodes: a column type, or one of the numeric results.
ResultKind = ColumnType
Operator = Literal["=", "<>", "<", "<=", ">", ">="]


class Expr:
    """Something that renders to SQL against a table, with its bound parameters."""

    def render(self, table: Table, dialect: Dialect, params: list[Any]) -> str:
        raise NotImplementedError

    def kind(self, table: Table) -> ResultKind:
        raise NotImplementedError

    def as_(self, alias: str) -> Aliased:
        return Aliased(self, check_identifier(alias, "alias"))

    def default_name(self) -> str:
        raise InvalidReadModel(f"{self!r} needs a name: use .as_('name')")


@dataclass(frozen=True, slots=True)
class Aliased:
    expr: Expr
    alias: str


@dataclass(frozen=True, slots=True, eq=False)
class Col(Expr):
    """A declared column. Comparison operators build conditions; values are bound."""

    name: str

    def render(self, table: Table, dialect: Dialect, params: list[Any]) -> str:
        table.column(self.name)  # raises UnknownColumn
        return quote(self.name)

    def kind(self, table: Table) -> ResultKind:
        return table.column(self.name).type

    def default_name(self) -> str:
        return self.name

    def _compare(self, op: Operator, value: Any) -> Condition:
        return Compare(self, op, value)

    def __eq__(self, value: object) -> Condition:  # type: ignore[override]
        return IsNull(self) if value is None else self._compare("=", value)

    def __ne__(self, value: object) -> Condition:  # type: ignore[override]
        return Not(IsNull(self)) if value is None else self._compare("<>", value)

    def __lt__(self, value: Any) -> Condition:
        return self._compare("<", value)

    def __le__(self, value: Any) -> Condition:
        return self._compare("<=", value)

    def __gt__(self, value: Any) -> Condition:
        return self._compare(">", value)

    def __ge__(self, value: Any) -> Condition:
        return self._compare(">=", value)

    def __hash__(self) -> int:
        return hash(("col", self.name))

    def in_(self, values: Iterable[Any]) -> Condition:
        return In(self, tuple(values))

    def between(self, low: Any, high: Any) -> Condition:
        """``low <= col < high``: half-open, so consecutive ranges never overlap."""
        return And((self >= low, self < high))

    def is_null(self) -> Condition:
        return IsNull(self)

    def startswith(self, prefix: str) -> Condition:
        return StartsWith(self, prefix)


def col(name: str) -> Col:
    return Col(name)


# --- conditions -----------------------------------------------------------------------------


class Condition:
    def render(self, table: Table, dialect: Dialect, params: list[Any]) -> str:
        raise NotImplementedError

    def __and__(self, other: Condition) -> Condition:
        return And((self, other))

    def __or__(self, other: Condition) -> Condition:
        return Or((self, other))

    def __invert__(self) -> Condition:
        return Not(self)


def _bind(column: Col, table: Table, value: Any, params: list[Any]) -> str:
    params.append(table.encode(column.name, value))
    return "?"


@dataclass(frozen=True, slots=True)
class Compare(Condition):
    column: Col
    op: Operator
    value: Any

    def render(self, table: Table, dialect: Dialect, params: list[Any]) -> str:
        left = self.column.render(table, dialect, params)
        return f"{left} {self.op} {_bind(self.column, table, self.value, params)}"


@dataclass(frozen=True, slots=True)
class In(Condition):
    column: Col
    values: tuple[Any, ...]

    def render(self, table: Table, dialect: Dialect, params: list[Any]) -> str:
        left = self.column.render(table, dialect, params)
        if not self.values:
            return "1 = 0"  # "IN ()" is a syntax error; an empty set matches nothing
        marks = ", ".join(_bind(self.column, table, v, params) for v in self.values)
        return f"{left} IN ({marks})"


@dataclass(frozen=True, slots=True)
class IsNull(Condition):
    column: Col

    def render(self, table: Table, dialect: Dialect, params: list[Any]) -> str:
        return f"{self.column.render(table, dialect, params)} IS NULL"


@dataclass(frozen=True, slots=True)
class StartsWith(Condition):
    column: Col
    prefix: str

    def render(self, table: Table, dialect: Dialect, params: list[Any]) -> str:
        # substr, not LIKE: no wildcards to escape, and the same case rules everywhere.
        left = self.column.render(table, dialect, params)
        params.extend([len(self.prefix), self.prefix])
        return f"substr({left}, 1, ?) = ?"


@dataclass(frozen=True, slots=True)
class And(Condition):
    parts: tuple[Condition, ...]

    def render(self, table: Table, dialect: Dialect, params: list[Any]) -> str:
        return "(" + " AND ".join(p.render(table, dialect, params) for p in self.parts) + ")"


@dataclass(frozen=True, slots=True)
class Or(Condition):
    parts: tuple[Condition, ...]

    def render(self, table: Table, dialect: Dialect, params: list[Any]) -> str:
        return "(" + " OR ".join(p.render(table, dialect, params) for p in self.parts) + ")"


@dataclass(frozen=True, slots=True)
class Not(Condition):
    part: Condition

    def render(self, table: Table, dialect: Dialect, params: list[Any]) -> str:
        return f"NOT {self.part.render(table, dialect, params)}"


# --- computed values ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Aggregate(Expr):
    function: Literal["COUNT", "SUM", "AVG", "MIN", "MAX"]
    column: Col | None
    distinct: bool = False

    def render(self, table: Table, dialect: Dialect, params: list[Any]) -> str:
        if self.column is None:
            return "COUNT(*)"
        inner = self.column.render(table, dialect, params)
        return f"{self.function}({'DISTINCT ' if self.distinct else ''}{inner})"

    def kind(self, table: Table) -> ResultKind:
        if self.function == "COUNT":
            return INTEGER
        source = self.column.kind(table) if self.column is not None else INTEGER
        if self.function == "AVG":
            return REAL
        if self.function == "SUM" and source not in (INTEGER, REAL):
            raise InvalidReadModel(f"SUM needs a numeric column, not {source.value}")
        return source

    def default_name(self) -> str:
        name = self.function.lower()
        return name if self.column is None else f"{name}_{self.column.name}"


@dataclass(frozen=True, slots=True, eq=False)
class Bucket(Expr):
    """A timestamp truncated to its UTC day or month, as a date."""

    column: Col
    unit: Literal["day", "month"]

    def render(self, table: Table, dialect: Dialect, params: list[Any]) -> str:
        inner = self.column.render(table, dialect, params)
        if self.column.kind(table) is not ColumnType.TIMESTAMP:
            raise InvalidReadModel(f"{self.unit}() needs a timestamp column")
        if dialect == "sqlite":
            # Stored as fixed-width UTC text 'YYYY-MM-DDTHH:MM:SS.ffffffZ'.
            return (
                f"substr({inner}, 1, 10)"
                if self.unit == "day"
                else f"(substr({inner}, 1, 7) || '-01')"
            )
        utc = f"({inner} AT TIME ZONE 'UTC')"
        return (
            f"CAST({utc} AS DATE)"
            if self.unit == "day"
            else f"CAST(date_trunc('month', {utc}) AS DATE)"
        )

    def kind(self, table: Table) -> ResultKind:
        return DATE

    def default_name(self) -> str:
        return f"{self.unit}_{self.column.name}"


def _col(column: str | Col) -> Col:
    return column if isinstance(column, Col) else Col(column)


def count(column: str | Col | None = None, *, distinct: bool = False) -> Aggregate:
    return Aggregate("COUNT", None if column is None else _col(column), distinct)


def sum_(column: str | Col) -> Aggregate:
    return Aggregate("SUM", _col(column))


def avg(column: str | Col) -> Aggregate:
    return Aggregate("AVG", _col(column))


def min_(column: str | Col) -> Aggregate:
    return Aggregate("MIN", _col(column))


def max_(column: str | Col) -> Aggregate:
    return Aggregate("MAX", _col(column))


def day(column: str | Col) -> Bucket:
    return Bucket(_col(column), "day")


def month(column: str | Col) -> Bucket:
    return Bucket(_col(column), "month")


def result_decoder(kind: ResultKind) -> Any:
    return decoder(kind)
