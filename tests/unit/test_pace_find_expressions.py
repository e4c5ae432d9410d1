"""Pace find expressions: the text sent, the refusals, and that a value never becomes syntax.

Round trips go through the Pace sandbox's own parser (`parse_find_expression`), the same code
that answers FindObjects over HTTP in the integration tests.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.providers.pace.find_expressions import (
    FindExpression,
    all_of,
    any_of,
    equals,
    field_path,
    is_true,
    literal,
    not_equals,
)
from daemon.providers.pace.sandbox import FindSyntaxError, parse_find_expression


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        (equals("email", "a@b.com"), "@email = 'a@b.com'"),
        (equals("email", "o'brien@b.com"), '@email = "o\'brien@b.com"'),
        (equals("email", 'say "hi"'), "@email = 'say \"hi\"'"),
        (equals("email", "o'b\"x"), "@email = concat('o', \"'\", 'b\"x')"),
        (equals("custName", "'\"'"), '@custName = concat("\'", \'"\', "\'")'),
        (is_true("active"), "@active = 'true'"),
        (equals("active", False), "@active = 'false'"),
        (equals("jobType", 10), "@jobType = 10"),
        (equals("id", -3), "@id = -3"),
        (equals("cost", Decimal("1E+2")), "@cost = 100"),
        (equals("cost", Decimal("49.50")), "@cost = 49.50"),
        (equals("dateSetup", dt.date(2016, 2, 1)), "@dateSetup = date(2016, 2, 1)"),
        (not_equals("adminStatus", "C"), "@adminStatus != 'C'"),
        (equals("customer/@custName", "HOUSE"), "customer/@custName = 'HOUSE'"),
        (equals("../@id", "HOUSE"), "../@id = 'HOUSE'"),
        (
            all_of(equals("customer", "C1"), is_true("active")),
            "@customer = 'C1' and @active = 'true'",
        ),
        (
            equals("job", "12345") & equals("jobPart", "01"),
            "@job = '12345' and @jobPart = '01'",
        ),
        (
            all_of(equals("customer", "C1"), any_of(equals("email", "a"), equals("email", "b"))),
            "@customer = 'C1' and (@email = 'a' or @email = 'b')",
        ),
        (
            (equals("a", "1") & equals("b", "2")) | equals("c", "3"),
            "(@a = '1' and @b = '2') or @c = '3'",
        ),
        (
            all_of(all_of(equals("a", "1"), equals("b", "2")), equals("c", "3")),
            "@a = '1' and @b = '2' and @c = '3'",
        ),
        (all_of(equals("a", "1")), "@a = '1'"),
    ],
)
def test_expression_text(expression: FindExpression, text: str) -> None:
    assert str(expression) == text


def test_single_quote_alone_is_written_in_double_quotes() -> None:
    assert str(equals("email", "'")) == '@email = "\'"'


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: equals("email", ""), ValueError, "would match every object"),
        (lambda: equals("email", "a\x00b"), ValueError, "U+0000 at position 1"),
        (lambda: equals("email", "a\x0bb"), ValueError, "U+000B"),
        (lambda: equals("email", "\ud800"), ValueError, "U+D800"),
        (lambda: equals("email", "\ufffe"), ValueError, "U+FFFE"),
        (lambda: equals("cost", 1.5), TypeError, "float is not supported"),  # type: ignore[arg-type]
        (lambda: equals("cost", Decimal("NaN")), ValueError, "not a finite number"),
        (
            lambda: equals("promiseDateTime", dt.datetime(2024, 1, 1)),
            TypeError,
            "compare a date",
        ),
        (lambda: equals("email; drop", "x"), ValueError, "'email; drop': not a Pace property"),
        (lambda: equals("email/", "x"), ValueError, "not a Pace property"),
        (lambda: equals("customer/custName", "x"), ValueError, "not a Pace property"),
        (lambda: equals("", "x"), ValueError, "not a Pace property"),
        (lambda: equals("a b", "x"), ValueError, "not a Pace property"),
        (lambda: equals("email' or '1'='1", "x"), ValueError, "not a Pace property"),
        (lambda: all_of(), ValueError, "needs at least one part"),
        (lambda: all_of("@a = 1"), TypeError, "must be FindExpression"),  # type: ignore[arg-type]
    ],
)
def test_refusals_name_the_problem(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_field_path_and_literal_are_usable_alone() -> None:
    assert field_path("email") == "@email"
    assert field_path("@email") == "@email"
    assert field_path("adminStatus/@openJob") == "adminStatus/@openJob"
    assert literal(True) == "'true'"
    assert literal("x", field="email") == "'x'"


HOSTILE = [
    "o'brien@example.com",
    'say "hi"@example.com',
    "x' or @email != '",
    'x" or @email != "',
    "x' or '1'='1",
    "') or (@email != '",
    "concat('a', 'b')",
    "a'b\"c'd\"e",
    "'\"'\"",
    "@email",
    " and ",
    "\\'",
    "tab\there\r\nnewline",
    "ünïcødé ✓ 😀",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_value_matches_only_itself(value: str) -> None:
    predicate = parse_find_expression(str(equals("email", value)))
    assert predicate.fields == frozenset({"email"})
    assert predicate.matches({"email": value})
    others = [v for v in HOSTILE if v != value] + ["", None, "x", value + " ", value.upper()]
    matched = [other for other in others if other != value and predicate.matches({"email": other})]
    assert matched == []


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_value_inside_a_conjunction_cannot_widen_it(value: str) -> None:
    expression = all_of(equals("customer", "C1"), equals("email", value))
    predicate = parse_find_expression(str(expression))
    assert predicate.fields == frozenset({"customer", "email"})
    assert predicate.matches({"customer": "C1", "email": value})
    assert not predicate.matches({"customer": "C2", "email": value})
    assert not predicate.matches({"customer": "C1", "email": "someone@else"})
    assert not predicate.matches({"customer": "C1", "email": None})


def test_sandbox_parser_reads_pace_idioms() -> None:
    record = {"active": True, "jobType": 10, "dateSetup": dt.datetime(2021, 7, 16, 9, 0)}
    assert parse_find_expression("@active").matches(record)
    assert parse_find_expression("@active = 'true' and @jobType = 10").matches(record)
    assert parse_find_expression("@dateSetup = date( 2021, 07, 16 )").matches(record)
    assert parse_find_expression("@email = ''").matches({"email": None})
    assert not parse_find_expression("@email != 'x'").matches({"email": None})
    assert parse_find_expression("@id = 1 or @id != 1").matches({"id": 5})
    assert parse_find_expression("contains(@description,'Combo')").matches(
        {"description": "A Combo run"}
    )
    with pytest.raises(FindSyntaxError, match="unknown or unsupported function: substring"):
        parse_find_expression("substring(@job, 1, 2) = '10'")
    with pytest.raises(FindSyntaxError, match="position"):
        parse_find_expression("@email = 'unterminated")


# -- properties -------------------------------------------------------------------------------

_XML_CHAR = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_chars = st.one_of(
    st.sampled_from("'\"@=()!<>,/ \tandorconcat"),
    st.characters(codec="utf-8").filter(lambda c: _XML_CHAR.fullmatch(c) is not None),
)
values = st.text(_chars, min_size=1, max_size=30)
stored = st.one_of(st.none(), st.just(""), values)


@settings(max_examples=300, deadline=None)
@given(value=values)
def test_any_value_round_trips_through_the_parser(value: str) -> None:
    assert parse_find_expression(str(equals("email", value))).matches({"email": value})


@settings(max_examples=300, deadline=None)
@given(value=values, others=st.lists(stored, max_size=8))
def test_a_find_never_matches_more_than_equality(value: str, others: list[str | None]) -> None:
    predicate = parse_find_expression(str(equals("email", value)))
    records = [{"email": other} for other in [*others, value]]
    found = [record["email"] for record in records if predicate.matches(record)]
    assert found == [email for email in [*others, value] if email == value]


@settings(max_examples=200, deadline=None)
@given(a=values, b=values, customer=values, record_email=stored, record_customer=stored)
def test_composed_expressions_keep_their_logic(
    a: str, b: str, customer: str, record_email: str | None, record_customer: str | None
) -> None:
    expression = equals("customer", customer) & (equals("email", a) | equals("email", b))
    predicate = parse_find_expression(str(expression))
    record = {"email": record_email, "customer": record_customer}
    expected = record_customer == customer and record_email in (a, b)
    assert predicate.matches(record) is expected
