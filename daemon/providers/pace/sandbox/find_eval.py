"""The subset of Pace's find expressions (XPath) that esd sends, parsed and evaluated over the
sandbox's objects (`parse_find_expression`); anything else is a `FindSyntaxError` naming it, as
Pace refuses what it does not understand. What Pace does where no source says (`!=` over null,
concat(), the wording of a refused function) comes from `daemon.providers.pace.guesses`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from daemon.providers.pace.guesses import (
    FAULT_UNSUPPORTED_FUNCTION,
    NOT_EQUALS_MATCHES_NULL,
    XPATH_HAS_CONCAT,
)

__all__ = ["FindPredicate", "FindSyntaxError", "parse_find_expression"]


class FindSyntaxError(ValueError):
    """A find expression the sandbox cannot read (Pace would fault too)."""


_TOKEN = re.compile(
    r"""[ \t\r\n]*(?:
      (?P<string>'[^']*'|"[^"]*")
    | (?P<number>\d+(?:\.\d*)?|\.\d+)
    | (?P<op>!=|<=|>=|=|<|>)
    | (?P<dotdot>\.\.)
    | (?P<punct>[@/(),-])
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
_TRAILING_SPACE = re.compile(r"[ \t\r\n]*")


@dataclasses.dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # string, number, op, dotdot, punct, name, end
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    found = []
    at = 0
    while True:
        if _TRAILING_SPACE.fullmatch(text, at):
            found.append(_Token("end", "", len(text)))
            return found
        match = _TOKEN.match(text, at)
        if match is None or match.lastgroup is None:
            raise FindSyntaxError(
                f"Invalid XPath expression at position {at}: {text[at : at + 20]!r}"
            )
        kind = match.lastgroup
        found.append(_Token(kind, match.group(kind), match.start(kind)))
        at = match.end()


@dataclasses.dataclass(frozen=True, slots=True)
class _Field:
    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class _Literal:
    value: str | Decimal


@dataclasses.dataclass(frozen=True, slots=True)
class _Call:
    name: str
    args: tuple[_Node, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class _Compare:
    op: str
    left: _Node
    right: _Node


@dataclasses.dataclass(frozen=True, slots=True)
class _Junction:
    op: Literal["and", "or"]
    parts: tuple[_Node, ...]


_Node = _Field | _Literal | _Call | _Compare | _Junction

# function -> (min args, max args)
_FUNCTIONS: Mapping[str, tuple[int, int]] = {
    **({"concat": (2, 1000)} if XPATH_HAS_CONCAT else {}),  # guessed: EFI does not list it
    "date": (3, 3),
    "current-date": (0, 0),
    "contains": (2, 2),
    "starts-with": (2, 2),
    "true": (0, 0),
    "false": (0, 0),
}


class _Parser:
    """Recursive descent over `_tokens`: or > and > comparison > operand."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens = _tokens(text)
        self._i = 0

    def parse(self) -> _Node:
        node = self._or()
        if self._peek().kind != "end":
            self._fail("unexpected text")
        return node

    def _peek(self) -> _Token:
        return self._tokens[self._i]

    def _next(self) -> _Token:
        token = self._tokens[self._i]
        self._i += 1
        return token

    def _fail(self, what: str) -> None:
        token = self._peek()
        shown = token.text or "end of expression"
        raise FindSyntaxError(
            f"Invalid XPath expression: {what} at position {token.at} ({shown!r})"
        )

    def _expect(self, kind: str, text: str | None = None) -> _Token:
        token = self._peek()
        if token.kind != kind or (text is not None and token.text != text):
            self._fail(f"expected {text or kind}")
        return self._next()

    def _is_keyword(self, word: str) -> bool:
        token = self._peek()
        return token.kind == "name" and token.text == word

    def _or(self) -> _Node:
        parts = [self._and()]
        while self._is_keyword("or"):
            self._next()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else _Junction("or", tuple(parts))

    def _and(self) -> _Node:
        parts = [self._comparison()]
        while self._is_keyword("and"):
            self._next()
            parts.append(self._comparison())
        return parts[0] if len(parts) == 1 else _Junction("and", tuple(parts))

    def _comparison(self) -> _Node:
        left = self._operand()
        if self._peek().kind == "op":
            op = self._next().text
            return _Compare(op, left, self._operand())
        return left

    def _operand(self) -> _Node:
        token = self._peek()
        if token.kind == "punct" and token.text == "(":
            self._next()
            inner = self._or()
            self._expect("punct", ")")
            return inner
        if token.kind == "string":
            self._next()
            return _Literal(token.text[1:-1])
        if token.kind == "number":
            self._next()
            return _Literal(Decimal(token.text))
        if token.kind == "punct" and token.text == "-":
            self._next()
            number = self._expect("number")
            return _Literal(-Decimal(number.text))
        if token.kind == "punct" and token.text == "@":
            self._next()
            return _Field(self._expect("name").text)
        if token.kind == "dotdot" or (
            token.kind == "name" and self._tokens[self._i + 1].text == "/"
        ):
            raise FindSyntaxError(
                f"Invalid XPath expression: the sandbox only reads @field of the object itself "
                f"(position {token.at})"
            )
        if token.kind == "name" and self._tokens[self._i + 1].text == "(":
            return self._call()
        self._fail("expected @field, a literal or a function")
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(self) -> _Call:
        name = self._next().text
        if name not in _FUNCTIONS:
            raise FindSyntaxError(FAULT_UNSUPPORTED_FUNCTION.format(name=name))
        self._expect("punct", "(")
        args: list[_Node] = []
        if not (self._peek().kind == "punct" and self._peek().text == ")"):
            args.append(self._or())
            while self._peek().kind == "punct" and self._peek().text == ",":
                self._next()
                args.append(self._or())
        self._expect("punct", ")")
        low, high = _FUNCTIONS[name]
        if not low <= len(args) <= high:
            raise FindSyntaxError(
                f"Invalid XPath expression: wrong number of arguments to {name}()"
            )
        if name == "date":
            for arg in args:
                if not (isinstance(arg, _Literal) and isinstance(arg.value, Decimal)):
                    raise FindSyntaxError("Invalid XPath expression: date() takes three numbers")
        return _Call(name, tuple(args))


def _fields_of(node: _Node) -> Iterator[str]:
    if isinstance(node, _Field):
        yield node.name
    elif isinstance(node, _Call):
        for arg in node.args:
            yield from _fields_of(arg)
    elif isinstance(node, _Compare):
        yield from _fields_of(node.left)
        yield from _fields_of(node.right)
    elif isinstance(node, _Junction):
        for part in node.parts:
            yield from _fields_of(part)


class FindPredicate:
    """A parsed find expression; `matches(record)` says whether an object is found."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._root = _Parser(text).parse()
        #: the fields the expression reads (the server checks them against the object type)
        self.fields = frozenset(_fields_of(self._root))

    def matches(self, record: Mapping[str, object]) -> bool:
        """Does the object `record` (field -> value; None for null) match?"""
        return _truth(self._root, record)


def parse_find_expression(text: str) -> FindPredicate:
    """Parse Pace find-expression `text`; raise FindSyntaxError if it is not in the subset."""
    return FindPredicate(text)


# Values while evaluating: None (null), str, Decimal, dt.date, bool (from fields and functions).
_Value = None | str | Decimal | dt.date | bool


def _value(node: _Node, record: Mapping[str, object]) -> _Value:
    if isinstance(node, _Field):
        return _from_field(record.get(node.name))
    if isinstance(node, _Literal):
        return node.value
    if isinstance(node, _Call):
        return _call_value(node, record)
    return _truth(node, record)


def _from_field(raw: object) -> _Value:
    if raw is None or raw == "":
        return None  # Pace stores empty as null: '' and null are the same thing to a find
    if isinstance(raw, bool | str | Decimal | dt.date):
        return raw
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        return Decimal(repr(raw))
    return str(raw)


def _call_value(node: _Call, record: Mapping[str, object]) -> _Value:
    name = node.name
    if name == "true":
        return True
    if name == "false":
        return False
    if name == "current-date":
        return dt.datetime.now(dt.UTC).date()
    if name == "date":
        y, m, d = (int(_number(_value(arg, record)) or 0) for arg in node.args)
        try:
            return dt.date(y, m, d)
        except ValueError:
            raise FindSyntaxError(f"Invalid XPath expression: no such date {y}-{m}-{d}") from None
    texts = [_string(_value(arg, record)) for arg in node.args]
    if name == "concat":
        return "".join(texts)
    if name == "contains":
        return texts[1] in texts[0]
    return texts[0].startswith(texts[1])  # starts-with


def _string(value: _Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def _day(value: _Value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return _day(dt.datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _number(value: _Value) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _compare(op: str, left: _Value, right: _Value) -> bool:
    if left is None or right is None:
        # SQL-like: null matches nothing but the null test `@f = ''` (pace.md §3).
        other = right if left is None else left
        if op == "!=":  # guessed: `guesses.NOT_EQUALS_MATCHES_NULL`
            return NOT_EQUALS_MATCHES_NULL and other not in (None, "")
        return op == "=" and (other is None or other == "")
    a: Any
    b: Any
    if isinstance(left, dt.date) or isinstance(right, dt.date):
        a, b = _day(left), _day(right)
    elif isinstance(left, Decimal) or isinstance(right, Decimal):
        a, b = _number(left), _number(right)
    else:  # strings and booleans compare as strings ("true" = @active)
        a, b = _string(left), _string(right)
    if a is None or b is None:  # no common type: unequal
        return op == "!="
    try:
        return bool(_OPERATORS[op](a, b))
    except TypeError:
        return False


_OPERATORS: Mapping[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


def _truth(node: _Node, record: Mapping[str, object]) -> bool:
    if isinstance(node, _Junction):
        if node.op == "and":
            return all(_truth(part, record) for part in node.parts)
        return any(_truth(part, record) for part in node.parts)
    if isinstance(node, _Compare):
        return _compare(node.op, _value(node.left, record), _value(node.right, record))
    value = _value(node, record)
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return value != 0
    return value is not None and value != ""
