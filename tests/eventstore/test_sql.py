"""Portable SQL: ``?`` placeholders everywhere, rewritten for psycopg."""

from __future__ import annotations

import pytest

from headwater.eventstore import Statement
from headwater.eventstore._sql import qmark_to_pyformat


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1", "SELECT 1"),
        ("SELECT * FROM t WHERE a = ?", "SELECT * FROM t WHERE a = %s"),
        ("INSERT INTO t VALUES (?, ?, ?)", "INSERT INTO t VALUES (%s, %s, %s)"),
        ("SELECT a % 2 FROM t WHERE b = ?", "SELECT a %% 2 FROM t WHERE b = %s"),
        ("SELECT '?' , ?", "SELECT '?' , %s"),
        ("SELECT 'a%b' WHERE x LIKE ?", "SELECT 'a%%b' WHERE x LIKE %s"),
        ('SELECT "col?" FROM t WHERE a = ?', 'SELECT "col?" FROM t WHERE a = %s'),
        ("SELECT 'it''s ?' , ?", "SELECT 'it''s ?' , %s"),
        ('SELECT "it\'s" , ?', 'SELECT "it\'s" , %s'),
        ("SELECT '\"?\"', ?", "SELECT '\"?\"', %s"),
        ("SELECT %s", "SELECT %%s"),
        ("", ""),
    ],
)
def test_qmark_to_pyformat_rewrites_placeholders_outside_quotes_only(
    sql: str, expected: str
) -> None:
    assert qmark_to_pyformat(sql) == expected


def test_qmark_to_pyformat_result_formats_back_to_the_literal_text() -> None:
    # psycopg applies Python %-formatting: every literal % must come back unchanged.
    converted = qmark_to_pyformat("SELECT '100%' AS p, a % b, ? AS x")
    assert converted % ("$1",) == "SELECT '100%' AS p, a % b, $1 AS x"


def test_statement_defaults_to_no_parameters_run_once() -> None:
    statement = Statement("DELETE FROM t")
    assert (statement.sql, tuple(statement.params), statement.many) == ("DELETE FROM t", (), False)


def test_statement_executemany_runs_once_per_row() -> None:
    rows = [(1, "a"), (2, "b")]
    statement = Statement.executemany("INSERT INTO t VALUES (?, ?)", rows)
    assert statement == Statement("INSERT INTO t VALUES (?, ?)", rows, many=True)
    assert statement.many is True


def test_statement_is_immutable_and_comparable() -> None:
    assert Statement("SELECT ?", (1,)) == Statement("SELECT ?", (1,))
    assert Statement("SELECT ?", (1,)) != Statement("SELECT ?", (2,))
    with pytest.raises(AttributeError):
        Statement("SELECT 1").sql = "SELECT 2"  # type: ignore[misc]
