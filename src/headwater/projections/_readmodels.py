"""Read-model tables: declared once, then DDL, writes and reads derived from the declaration.

A :class:`Table` names its columns, types, primary key and indexes. From that it
emits portable DDL (SQLite and PostgreSQL), upserts (``INSERT ... ON CONFLICT ... DO
UPDATE``, which both dialects accept verbatim) and encoded parameters (see
``columns.py``), so one Statement runs unchanged on both backends.

Handlers build SQL through :attr:`Table.ref`, never a hard-coded name: during a rebuild
the same handler code is aimed at fresh tables by :func:`redirect_tables`.
"""

from __future__ import annotations

import contextvars
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from headwater.errors import InvalidReadModel, UnknownColumn
from headwater.eventstore._protocol import Dialect, Transaction
from headwater.eventstore._sql import Statement
from headwater.projections._coalesce import FoldPlan, register_fold_plan
from headwater.projections._columns import (
    DDL_TYPES,
    MAX_TABLE_NAME,
    Column,
    ColumnType,
    Index,
    Merge,
    check_identifier,
    decoder,
    encoder,
    quote,
)

# The physical table each logical table name currently resolves to, for this task.
_targets: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "headwater_readmodel_targets", default=None
)


class redirect_tables:
    """Make :attr:`Table.ref` resolve through ``targets`` inside the block.

    A class rather than ``@contextmanager``: it wraps every handler call, and this
    is several times cheaper.
    """

    __slots__ = ("_targets", "_token")

    def __init__(self, targets: Mapping[str, str]) -> None:
        self._targets = targets

    def __enter__(self) -> None:
        self._token = _targets.set(self._targets)

    def __exit__(self, *exc: object) -> None:
        _targets.reset(self._token)


class Table:
    """A read-model table. Build statements with its methods, or raw SQL with :attr:`ref`."""

    def __init__(
        self,
        name: str,
        columns: Mapping[str, ColumnType | Column],
        *,
        primary_key: str | Sequence[str],
        indexes: Iterable[str | Sequence[str] | Index] = (),
        tenant_column: str | None = None,
    ) -> None:
        self.name = check_identifier(name, "table name", MAX_TABLE_NAME)
        if not columns:
            raise InvalidReadModel(f"table {name!r} declares no columns")
        self.columns: dict[str, Column] = {
            check_identifier(col, "column name"): spec if isinstance(spec, Column) else Column(spec)
            for col, spec in columns.items()
        }
        for col, spec in self.columns.items():
            if not isinstance(spec.type, ColumnType):
                raise InvalidReadModel(f"column {col!r} has no ColumnType: {spec.type!r}")
        keys = (primary_key,) if isinstance(primary_key, str) else tuple(primary_key)
        self.primary_key: tuple[str, ...] = self._known(keys, "primary key")
        if not self.primary_key:
            raise InvalidReadModel(f"table {name!r} needs a primary key")
        self.indexes: tuple[Index, ...] = tuple(self._index(spec) for spec in indexes)
        self.tenant_column = (
            None if tenant_column is None else self._known((tenant_column,), "tenant column")[0]
        )
        self._encoders = {col: encoder(spec.type) for col, spec in self.columns.items()}
        self._decoders = {col: decoder(spec.type) for col, spec in self.columns.items()}
        self._sql: dict[tuple[Any, ...], str] = {}

    def __repr__(self) -> str:
        return f"Table({self.name!r})"

    def _known(self, names: Iterable[str], what: str) -> tuple[str, ...]:
        out = tuple(names)
        for col in out:
            if col not in self.columns:
                raise InvalidReadModel(f"{what} of {self.name!r} names unknown column {col!r}")
        return out

    def _index(self, spec: str | Sequence[str] | Index) -> Index:
        if isinstance(spec, Index):
            return Index(self._known(spec.columns, "index"), spec.unique)
        cols = (spec,) if isinstance(spec, str) else tuple(spec)
        return Index(self._known(cols, "index"))

    def column(self, name: str) -> Column:
        try:
            return self.columns[name]
        except (KeyError, TypeError):
            raise UnknownColumn(self.name, str(name)) from None

    # --- names ---------------------------------------------------------------------------

    @property
    def physical_name(self) -> str:
        """The table that SQL built *now* should touch: the live one, or a rebuild's.

        Inside a projection's handler only the projection's own tables resolve: a
        rebuild could not aim writes to any other table at a fresh copy, so it would
        apply them twice. Such a write fails loudly instead, on every path.
        """
        targets = _targets.get()
        if targets is None:
            return self.name
        try:
            return targets[self.name]
        except KeyError:
            raise InvalidReadModel(
                f"table {self.name!r} is not among the tables of the projection writing it"
            ) from None

    @property
    def ref(self) -> str:
        """The quoted :attr:`physical_name`, for raw SQL in handlers."""
        return quote(self.physical_name)

    def fingerprint(self) -> str:
        """Changes whenever the declared shape does: a changed table needs a rebuild."""
        shape = {
            "name": self.name,
            "columns": [
                [col, spec.type.value, spec.nullable, spec.default]
                for col, spec in self.columns.items()
            ],
            "pk": list(self.primary_key),
            "indexes": [[list(ix.columns), ix.unique] for ix in self.indexes],
        }
        return hashlib.sha256(orjson.dumps(shape)).hexdigest()[:16]

    # --- DDL -----------------------------------------------------------------------------

    def create_sql(self, dialect: Dialect, physical: str | None = None) -> list[str]:
        """CREATE TABLE and CREATE INDEX statements for ``physical`` (default: the live name)."""
        target = physical or self.name
        types = DDL_TYPES[dialect]
        parts = []
        for col, spec in self.columns.items():
            part = f"{quote(col)} {types[spec.type]}"
            if not spec.nullable:
                part += " NOT NULL"
            if spec.default is not None:
                part += f" DEFAULT {_literal(spec.default, dialect)}"
            parts.append(part)
        parts.append(f"PRIMARY KEY ({', '.join(quote(c) for c in self.primary_key)})")
        statements = [f"CREATE TABLE {quote(target)} ({', '.join(parts)})"]
        for number, index in enumerate(self.indexes):
            # Index names are per schema on both backends, and keep their name when the
            # table is renamed: the physical table name keeps them unique across rebuilds.
            unique = "UNIQUE " if index.unique else ""
            statements.append(
                f"CREATE {unique}INDEX {quote(f'{target}__ix{number}')} ON {quote(target)} "
                f"({', '.join(quote(c) for c in index.columns)})"
            )
        return statements

    # --- values --------------------------------------------------------------------------

    def encode(self, column: str, value: Any) -> Any:
        try:
            return self._encoders[column](value)
        except KeyError:
            raise UnknownColumn(self.name, column) from None

    def decode(self, column: str, value: Any) -> Any:
        return self._decoders[column](value)

    def _params(self, values: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
        # The hot path of every handler: one dict lookup and one call per value.
        encoders = self._encoders
        try:
            params = [encoders[col](value) for col, value in values.items()]
        except KeyError as exc:
            raise UnknownColumn(self.name, str(exc.args[0])) from None
        return list(values), params

    # --- writes --------------------------------------------------------------------------

    def insert(self, values: Mapping[str, Any]) -> Statement:
        cols, params = self._params(values)
        key = ("insert", self.physical_name, tuple(cols))
        sql = self._sql.get(key)
        if sql is None:
            sql = (
                f"INSERT INTO {self.ref} ({', '.join(quote(c) for c in cols)}) "
                f"VALUES ({', '.join('?' * len(cols))})"
            )
            self._sql[key] = sql
        return Statement(sql, params)

    def upsert(
        self, values: Mapping[str, Any], *, merge: Mapping[str, Merge] | None = None
    ) -> Statement:
        """Insert a row, or update the existing row with the same primary key.

        Non-key columns are replaced unless ``merge`` says otherwise, e.g.
        ``{"submissions": Merge.ADD, "created_at": Merge.KEEP}``.
        """
        cols, params = self._params(values)
        # Merge rules in the caller's order: a call site always builds them the same
        # way, and a differently ordered dict merely caches the same SQL twice.
        rules = tuple(merge.items()) if merge else ()
        key = ("upsert", self.physical_name, tuple(cols), rules)
        sql = self._sql.get(key)
        if sql is None:
            sql = self._upsert_sql(cols, dict(rules))
            self._sql[key] = sql
        return Statement(sql, params)

    def _upsert_sql(self, cols: list[str], rules: dict[str, Merge]) -> str:
        for col in rules:
            self.column(col)
        missing = [c for c in self.primary_key if c not in cols]
        if missing:
            raise InvalidReadModel(f"an upsert into {self.name!r} needs key columns {missing}")
        ref = self.ref
        sets = []
        for col in cols:
            if col in self.primary_key:
                continue
            rule = rules.get(col, Merge.REPLACE)
            new, old = f"excluded.{quote(col)}", f"{ref}.{quote(col)}"
            if rule is Merge.KEEP:
                continue
            if rule is Merge.REPLACE:
                expr = new
            elif rule is Merge.ADD:
                expr = f"COALESCE({old}, 0) + {new}"
            else:
                # CASE rather than GREATEST/MAX: the one spelling both dialects accept.
                op = ">" if rule is Merge.GREATEST else "<"
                expr = f"CASE WHEN {old} IS NULL OR {new} {op} {old} THEN {new} ELSE {old} END"
            sets.append(f"{quote(col)} = {expr}")
        conflict = ", ".join(quote(c) for c in self.primary_key)
        action = f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING"
        sql = (
            f"INSERT INTO {ref} ({', '.join(quote(c) for c in cols)}) "
            f"VALUES ({', '.join('?' * len(cols))}) ON CONFLICT ({conflict}) {action}"
        )
        register_fold_plan(
            sql,
            FoldPlan(
                tuple(i for i, c in enumerate(cols) if c in self.primary_key),
                tuple(None if c in self.primary_key else rules.get(c, Merge.REPLACE) for c in cols),
            ),
        )
        return sql

    def update(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        where: Mapping[str, Any],
        add: Mapping[str, int | float] | None = None,
    ) -> Statement:
        """``UPDATE ... SET col = ?, n = n + ? WHERE key = ? AND ...`` (no insert).

        ``values`` are set, ``add`` deltas are added; ``where`` is equality conditions.
        """
        set_cols, set_params = self._params(values or {})
        deltas = dict(add or {})
        for col in deltas:
            self.column(col)
        where_cols, where_params = self._params(where)
        if not (set_cols or deltas) or not where_cols:
            raise InvalidReadModel("an update needs values or deltas, and a where clause")
        add_cols = list(deltas)
        key = ("update", self.physical_name, tuple(set_cols), tuple(add_cols), tuple(where_cols))
        sql = self._sql.get(key)
        if sql is None:
            sets = [f"{quote(c)} = ?" for c in set_cols]
            sets += [f"{quote(c)} = COALESCE({quote(c)}, 0) + ?" for c in add_cols]
            sql = (
                f"UPDATE {self.ref} SET {', '.join(sets)} "
                f"WHERE {' AND '.join(f'{quote(c)} = ?' for c in where_cols)}"
            )
            self._sql[key] = sql
        return Statement(sql, [*set_params, *(deltas[c] for c in add_cols), *where_params])

    def increment(
        self, deltas: Mapping[str, int | float], *, where: Mapping[str, Any]
    ) -> Statement:
        """``UPDATE ... SET n = n + ?`` on the rows matching ``where`` (no insert)."""
        return self.update(where=where, add=deltas)

    def delete(self, *, where: Mapping[str, Any]) -> Statement:
        where_cols, where_params = self._params(where)
        if not where_cols:
            raise InvalidReadModel("a delete needs a where clause (use a rebuild to empty a table)")
        key = ("delete", self.physical_name, tuple(where_cols))
        sql = self._sql.get(key)
        if sql is None:
            sql = (
                f"DELETE FROM {self.ref} "
                f"WHERE {' AND '.join(f'{quote(c)} = ?' for c in where_cols)}"
            )
            self._sql[key] = sql
        return Statement(sql, where_params)

    # --- reads ---------------------------------------------------------------------------

    def select_all_sql(self) -> str:
        """Every row in primary-key order: what tests and rebuild checks compare."""
        cols = ", ".join(quote(c) for c in self.columns)
        order = ", ".join(quote(c) for c in self.primary_key)
        return f"SELECT {cols} FROM {self.ref} ORDER BY {order}"

    def decode_row(self, row: Sequence[Any]) -> dict[str, Any]:
        return {
            col: self._decoders[col](value) for col, value in zip(self.columns, row, strict=True)
        }


def _literal(value: int | float | str | bool, dialect: Dialect) -> str:
    """A DDL default. Only plain scalars, so nothing can be smuggled into DDL."""
    if isinstance(value, bool):
        if dialect == "sqlite":
            return "1" if value else "0"
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise InvalidReadModel(f"a column default must be a plain scalar, not {type(value).__name__}")


async def table_exists(tx: Transaction, dialect: Dialect, name: str) -> bool:
    """Whether ``name`` is a table in the store's schema (``tx`` is a store Transaction)."""
    if dialect == "sqlite":
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    else:
        sql = (
            "SELECT 1 FROM pg_catalog.pg_tables "
            "WHERE schemaname = current_schema() AND tablename = ?"
        )
    return await tx.fetchone(sql, (name,)) is not None
