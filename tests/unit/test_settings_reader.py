"""The kit's typed settings reader: each form the admin forms store, and each wrong value named."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from daemon.providers.kit import SettingsReader, table_problem

FLAGS: list[tuple[object, bool, list[str]]] = [
    (None, False, []),
    ("", False, []),
    ("Y", True, []),
    ("yes", True, []),
    (" TRUE ", True, []),
    ("N", False, []),
    (True, True, []),
    (False, False, []),
    ("maybe", False, ["must be Y or N (or true or false), got 'maybe'"]),
    (1, False, ["must be Y or N (or true or false), got 1"]),
]


@pytest.mark.parametrize(("value", "expected", "problems"), FLAGS)
def test_flag(value: object, expected: bool, problems: list[str]) -> None:
    read = SettingsReader({"f": value})
    assert read.flag("f", default=False) is expected
    assert [m for _, m in read.problems] == problems
    assert all(key == "f" for key, _ in read.problems)


INTS: list[tuple[object, int | None, int | None, int | None, str | None]] = [
    (None, None, None, None, None),
    ("  ", None, None, None, None),
    (5, 5, None, None, None),
    ("5", 5, None, None, None),
    ("-2", -2, None, None, None),
    ("5.5", None, None, None, "must be a whole number, got '5.5'"),
    (True, None, None, None, "must be a whole number, got True"),
    (0, None, 1, None, "must be at least 1, got 0"),
    (11, None, 0, 10, "must be from 0 to 10, got 11"),
    (10, 10, 0, 10, None),
]


@pytest.mark.parametrize(("value", "expected", "low", "high", "problem"), INTS)
def test_optional_int(
    value: object, expected: int | None, low: int | None, high: int | None, problem: str | None
) -> None:
    read = SettingsReader({"n": value})
    assert read.optional_int("n", low, high) == expected
    assert [m for _, m in read.problems] == ([problem] if problem else [])


def test_integer_default_and_text_forms() -> None:
    read = SettingsReader({"days": "", "code": 42, "name": "  Shop  ", "bad": ["x"]})
    assert read.integer("days", 3) == 3
    assert read.text("code") == "42"
    assert read.text("name") == "Shop"
    assert read.text("missing", "dflt") == "dflt"
    assert read.text("bad") == ""
    assert read.problems == [("bad", "must be a string")]


@pytest.mark.parametrize(
    ("value", "ok"),
    [(None, True), (30, True), (0.5, True), (0, False), (-1, False), (True, False),
     (float("inf"), False), ("30", False)],
)  # fmt: skip
def test_seconds(value: object, ok: bool) -> None:
    read = SettingsReader({} if value is None else {"t": value})
    got = read.seconds("t", 30.0)
    assert (read.problems == []) is ok
    if not ok:
        assert got == 30.0
        assert read.problems == [("t", "must be a number of seconds greater than 0")]


def test_choice_is_exact() -> None:
    read = SettingsReader({"mode": "Split", "other": ""})
    assert read.choice("mode", ("auto", "split"), "auto") == "auto"
    assert read.choice("other", ("auto", "split"), "split") == "split"
    assert read.problems == [("mode", "must be one of auto, split, got 'Split'")]


def test_dates_in_both_forms_and_every_bad_entry_named() -> None:
    # seed 004: "List of custom holidays ... 2021-10-28|2022-07-18"
    read = SettingsReader({"holidays": "2021-10-28| 2022-07-18 |"})
    assert read.dates("holidays") == {dt.date(2021, 10, 28), dt.date(2022, 7, 18)}
    assert read.problems == []
    listed: list[Any] = [dt.date(2024, 1, 1), "2024-02-30", dt.datetime(2024, 1, 2, 3, 4), 7]
    read = SettingsReader({"holidays": listed})
    assert read.dates("holidays") == {dt.date(2024, 1, 1)}
    assert [k for k, _ in read.problems] == ["holidays[1]", "holidays[2]", "holidays[3]"]
    assert "is not a date" in read.problems[0][1]
    assert "date-time" in read.problems[1][1]
    read = SettingsReader({"holidays": 5})
    assert read.dates("holidays") == frozenset()
    assert read.problems == [("holidays", "expected dates YYYY-MM-DD separated by '|'")]


def test_emails() -> None:
    read = SettingsReader({"to": "a@x.com; nope ;b@y.org", "list": ["c@z.net", 3]})
    assert read.emails("to") == ("a@x.com", "b@y.org")
    assert read.emails("list") == ("c@z.net",)
    assert read.problems == [
        ("to", "'nope' is not a valid e-mail address"),
        ("list[1]", "must be an e-mail address"),
    ]


def test_timezone() -> None:
    read = SettingsReader({"zone": "America/Chicago", "bad": "Mars/Olympus"})
    assert read.timezone("zone") == "America/Chicago"
    assert read.timezone("bad") == ""
    assert read.timezone("unset") == ""
    assert [k for k, _ in read.problems] == ["bad"]


def test_unknown_and_secret_keys_never_quote_the_secret() -> None:
    read = SettingsReader({"known": 1, "typo": 2, "password": "hunter2"}, prefix="site[1].")
    read.unknown_keys(("known",))
    assert read.problems == [
        ("site[1].password", "a secret belongs in the account's credentials, not in its settings"),
        ("site[1].typo", "unknown setting (known: known)"),
    ]
    assert "hunter2" not in repr(read.problems)


def test_required_text_and_table_problem() -> None:
    read = SettingsReader({"code": " ", "app": "X1"})
    assert read.required_text("code", "the customer code") is None
    assert read.required_text("app", "the application id") == "X1"
    assert read.problems == [("code", "required: the customer code")]
    assert table_problem({}) == []
    assert table_problem([1], "settings") == [
        ("settings", "expected a table of settings, got list")
    ]
