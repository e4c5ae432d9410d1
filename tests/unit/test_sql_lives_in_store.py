"""The store owns all SQL (issue 13, part 5): no module outside daemon/store/ holds SQL text.

Callers ask daemon.store for what they need by name (`stored_order`, `orders_in_state`,
`due_alert_mails`, ...) and get typed rows back; a table's shape changes in one package. This
test reads every module of the daemon with `ast` and fails naming the file and line of each
string literal (f-strings and implicitly joined strings included) that reads as a SQL
statement. Docstrings are prose and are not read; SQL keywords count only in capitals, the way
this code base writes its SQL.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

DAEMON = Path(__file__).resolve().parents[2] / "daemon"

#: Where SQL may live: the store owns all of it (Procrastinate's rule).
ALLOWED = ("store/",)

_SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b"
    r"|\bSELECT\s+(?:1|\*|DISTINCT|COUNT|MAX|MIN|SUM|COALESCE|json_\w+)\b"
    r"|\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b"
    r"|\bUPDATE\s+(?:\w+|\{\})\s+SET\b"
    r"|\bDELETE\s+FROM\b"
    r"|\b(?:CREATE|ALTER|DROP)\s+(?:TABLE|INDEX|TRIGGER|VIEW)\b"
    r"|\bPRAGMA\s+\w+"
    r"|\bBEGIN\s+(?:IMMEDIATE|DEFERRED|EXCLUSIVE)\b"
    r"|\bSAVEPOINT\s+\w+"
    r"|\bROLLBACK\s+TO\b"
)


def _literals(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, text) of every string literal but docstrings; an f-string's holes read `{}`."""
    prose: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            prose.add(id(node.value))  # a docstring, or a bare string: never a statement
        elif isinstance(node, ast.JoinedStr):
            prose.update(id(part) for part in node.values)  # read whole, below
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                str(part.value) if isinstance(part, ast.Constant) else "{}" for part in node.values
            )
            yield node.lineno, text
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose
        ):
            yield node.lineno, node.value


def sql_in(source: str) -> list[tuple[int, str]]:
    """(line, first words) of each SQL statement written in `source`'s string literals."""
    return [
        (line, " ".join(text.split())[:60])
        for line, text in _literals(ast.parse(source))
        if _SQL.search(text)
    ]


def test_no_sql_outside_the_store() -> None:
    found = [
        f"daemon/{relative}:{line}: {words}"
        for path in sorted(DAEMON.rglob("*.py"))
        if not (relative := path.relative_to(DAEMON).as_posix()).startswith(ALLOWED)
        for line, words in sql_in(path.read_text("utf-8"))
    ]
    assert not found, (
        "SQL outside daemon/store/ (add a store function named for what it does):\n"
        + "\n".join(found)
    )


@pytest.mark.parametrize(
    "source",
    [
        'txn.scalar("SELECT snapshot FROM orders WHERE site = ?", (site,))',
        'rows = "SELECT DISTINCT site, order_number FROM items" " WHERE state = ?"',
        'sql = f"SELECT COUNT(*) FROM items {where}"',
        'sql = f"UPDATE {table} SET state = ? WHERE id = ?"',
        'q = "INSERT INTO alerts (account) VALUES (?)"',
        'q = "INSERT OR IGNORE INTO timers (kind) VALUES (?)"',
        'q = "DELETE FROM timers WHERE id = ?"',
        'q = "SELECT 1"',
        'q = "PRAGMA user_version"',
        'q = "CREATE INDEX x ON t (a)"',
    ],
)
def test_the_scan_finds_sql_in_literals(source: str) -> None:
    assert [line for line, _ in sql_in(source)] == [1]


@pytest.mark.parametrize(
    "source",
    [
        'def f() -> None:\n    """The UPDATE is guarded: SELECT what you need FROM the store."""',
        'message = "select a site from the list, then update the settings"',
        'message = "the store cannot write: DELETE some files"',
        "# SELECT * FROM items (a comment)\nx = 1",
        'message = f"order {number} exists on several sites: give --site"',
    ],
)
def test_the_scan_leaves_prose_alone(source: str) -> None:
    assert sql_in(source) == []
