"""Pace find expressions (the XPath-like filter of FindObjects.find), built so values cannot escape.

Pace filters objects with XPath evaluated relative to each object: `@email = 'a@b.com'`,
`@customer = 'C1' and @active = 'true'` (pace.md §3). A value that comes from a storefront (an
e-mail address, a PO number) is data, and must never become syntax: `o'brien@x.com` spliced
between single quotes would break the query, and `x' or @email != '` would widen it to every
customer. EFI documents no escape for quotes inside literals (pace.md §3, §11), and XPath 1.0
has none, so a literal is written as:

- `'value'` when the value has no single quote (EFI's own samples use single quotes);
- `"value"` when it has a single quote but no double quote (pace.md §3 "pick the quote char not
  present in the value"; robgridley/pace-api's double quotes are accepted by live servers);
- `concat('o', "'", 'brien "x"')` when it has both: the XPath 1.0 technique, the only way to
  write such a string at all [GUESS that Pace's XPath supports concat(), `guesses.XPATH_HAS_CONCAT`;
  EFI lists only contains, starts-with, date and current-date, so such a value may be refused,
  never widened].

Other refusals, each a `ValueError` naming the field and the problem:

- an empty string: Pace tests for null with `@field = ''` (SDK sample), so searching for an empty
  e-mail would match every customer WITHOUT one;
- characters XML 1.0 cannot carry (the expression travels inside a SOAP envelope);
- floats (use `Decimal`), datetimes (Pace may not filter combined date-time fields, pace.md §3,
  seen only through REST in low-trust code: `guesses.DATETIME_FIELDS_FILTERABLE`; use a `date`),
  and field names that are not plain Pace property names.

The building blocks compose with `&` / `|` (or `all_of` / `any_of`), adding parentheses only
where `and` and `or` meet. Sans-IO: nothing here talks to Pace.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal
from typing import Literal

__all__ = [
    "FindExpression",
    "Value",
    "all_of",
    "any_of",
    "equals",
    "field_path",
    "is_true",
    "literal",
    "not_equals",
]

#: what a comparison's right-hand side may be
Value = str | int | bool | Decimal | dt.date

# A Pace property name (`email`, `custName`, `U_expedite`) ...
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# ... or a path to one through references: `customer/@custName`, `../@id` (pace.md §3).
_PATH = re.compile(rf"(?:(?:\.\.|{_NAME})/)*@{_NAME}")
_BARE_NAME = re.compile(_NAME)

# XML 1.0 Char production, minus nothing: anything outside it cannot be sent in a SOAP string.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclasses.dataclass(frozen=True, slots=True)
class FindExpression:
    """A complete find expression; `str(expression)` is what Pace receives as `in1`.

    Build it with the functions of this module; `text` is never re-parsed here.
    """

    text: str
    # The operator joining the top level ("" for one comparison): decides parentheses.
    joined_by: Literal["", "and", "or"] = ""

    def __str__(self) -> str:
        return self.text

    def __and__(self, other: FindExpression) -> FindExpression:
        return all_of(self, other)

    def __or__(self, other: FindExpression) -> FindExpression:
        return any_of(self, other)


def field_path(field: str) -> str:
    """The XPath of a field: `email` -> `@email`; `customer/@custName` is kept as it is."""
    if not isinstance(field, str):
        raise TypeError(f"find field must be a str, got {type(field).__name__}")
    if _BARE_NAME.fullmatch(field):
        return f"@{field}"
    if _PATH.fullmatch(field):
        return field
    raise ValueError(
        f"find field {field!r}: not a Pace property name (letters, digits, _) "
        "nor a path like 'customer/@custName'"
    )


def literal(value: Value, *, field: str = "value") -> str:
    """`value` written as an XPath literal that Pace reads back as exactly `value`.

    `field` only names the value in error messages.
    """
    # bool before int: True is an int too.
    if isinstance(value, bool):
        return "'true'" if value else "'false'"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"find value for {field}: {value} is not a finite number")
        # Fixed notation: XPath numbers have no exponent ("1E+2" is not a number).
        return format(value, "f")
    if isinstance(value, dt.datetime):  # guesses.DATETIME_FIELDS_FILTERABLE
        raise TypeError(
            f"find value for {field}: a datetime cannot be matched exactly; compare a date"
        )
    if isinstance(value, dt.date):
        return f"date({value.year}, {value.month}, {value.day})"
    if isinstance(value, str):
        return _string_literal(value, field)
    raise TypeError(
        f"find value for {field}: {type(value).__name__} is not supported "
        "(str, int, bool, Decimal, date)"
    )


def _string_literal(value: str, field: str) -> str:
    if value == "":
        raise ValueError(
            f"find value for {field}: empty; Pace reads '' as null, so it would match every "
            "object where the field is not set"
        )
    bad = _NOT_XML_CHAR.search(value)
    if bad is not None:
        raise ValueError(
            f"find value for {field}: character U+{ord(bad.group()):04X} at position "
            f"{bad.start()} cannot be sent in XML"
        )
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    # Both quote characters: single-quoted runs without "'", joined by "'" written in double
    # quotes. There are at least two pieces, as concat() requires: a "'" piece and the run
    # holding the '"'.
    pieces: list[str] = []
    for i, run in enumerate(value.split("'")):
        if i:
            pieces.append('"\'"')
        if run:
            pieces.append(f"'{run}'")
    return f"concat({', '.join(pieces)})"


def _comparison(field: str, operator: str, value: Value) -> FindExpression:
    path = field_path(field)
    return FindExpression(f"{path} {operator} {literal(value, field=field)}")


def equals(field: str, value: Value) -> FindExpression:
    """`@field = value`: objects whose field is exactly `value`."""
    return _comparison(field, "=", value)


def not_equals(field: str, value: Value) -> FindExpression:
    """`@field != value`. Whether Pace matches objects where the field is null is not known:
    esd assumes not, as in SQL (`guesses.NOT_EQUALS_MATCHES_NULL`, guessed; no source says), and
    the sandbox behaves so. No driver find uses `!=`."""
    return _comparison(field, "!=", value)


def is_true(field: str) -> FindExpression:
    """`@field = 'true'`: a boolean field that is set (robgridley/pace-api's form, pace.md §3)."""
    return equals(field, True)


def _joined(operator: Literal["and", "or"], parts: tuple[FindExpression, ...]) -> FindExpression:
    if not parts:
        raise ValueError(f"find expression: '{operator}' needs at least one part")
    for part in parts:
        if not isinstance(part, FindExpression):
            raise TypeError(
                f"find expression: parts must be FindExpression, got {type(part).__name__}"
            )
    if len(parts) == 1:
        return parts[0]
    texts = [
        f"({part.text})" if part.joined_by not in ("", operator) else part.text for part in parts
    ]
    return FindExpression(f" {operator} ".join(texts), operator)


def all_of(*parts: FindExpression) -> FindExpression:
    """`a and b and ...`: objects matching every part."""
    return _joined("and", parts)


def any_of(*parts: FindExpression) -> FindExpression:
    """`a or b or ...`: objects matching at least one part."""
    return _joined("or", parts)
