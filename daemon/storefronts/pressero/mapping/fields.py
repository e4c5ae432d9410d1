"""Typed, case-insensitive access to Pressero's JSON: each wrong shape a `BadEventPayload`
naming its path (`order.Items[2].Quantity`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from daemon.errors import BadEventPayload, quoted
from daemon.storefronts.pressero import guesses as g

_MAX_SHOWN = 60  # how much of a bad value an error quotes


# guessed: .NET's round-trip DateTime format writes 7 fraction digits (100 ns ticks); no
# Pressero timestamp in pressero.md shows a fraction at all. Cut to 6 anyway, so a longer one
# can never make a date unreadable: the 7th digit means nothing to an order.
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")


def lookup(data: Mapping[str, Any], name: str) -> Any:
    if name in data:
        return data[name]
    folded = name.casefold()
    for key, value in data.items():
        if isinstance(key, str) and key.casefold() == folded:
            return value
    return None


def _unicode_only(text: str, where: str) -> None:
    """Refuse a lone surrogate (JSON's `\\ud800` escapes carry them): no UTF-8 text has one, so
    neither the store nor the APIs esd writes to could take it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadEventPayload(
            f"{where}: not Unicode text (a lone surrogate at position {exc.start})"
        ) from None


def list_or_page(data: object, where: str) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping):
        rows = lookup(data, g.PAGE_ITEMS_FIELD)
        if isinstance(rows, list):
            return rows
    raise BadEventPayload(f"{where}: expected a list or a page with {g.PAGE_ITEMS_FIELD}")


def show(value: object) -> str:
    return quoted(value, _MAX_SHOWN)


class Row:
    """A JSON object and where it sits, with getters that name `where.Field` when it is wrong.

    Optional fields that are absent or null read as empty: "", 0, False, None.
    """

    __slots__ = ("_data", "where")

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise BadEventPayload(f"{where}: expected an object, got {type(data).__name__}")
        self._data: Mapping[str, Any] = data
        self.where = where

    def get(self, name: str) -> Any:
        return lookup(self._data, name)

    def child(self, name: str) -> Row:
        return Row(self.get(name), f"{self.where}.{name}")

    def _missing(self, name: str, what: str) -> BadEventPayload:
        return BadEventPayload(f"{self.where}.{name}: required, expected {what}")

    def text(self, name: str, *, required: bool = False, numbers: bool = True) -> str:
        """A string; with `numbers`, an integer is read as its digits (ids may be numbers)."""
        value = self.get(name)
        if value is None or value == "":
            if required:
                raise self._missing(name, "a non-empty string")
            return ""
        allowed = str | int if numbers else str
        if isinstance(value, bool) or not isinstance(value, allowed):
            raise BadEventPayload(f"{self.where}.{name}: expected a string, got {show(value)}")
        text = str(value)
        if not text.isascii():
            _unicode_only(text, f"{self.where}.{name}")
        return text

    def integer(
        self, name: str, *, required: bool = False, minimum: int | None = None
    ) -> int | None:
        value = self.get(name)
        if value is None:
            if required:
                raise self._missing(name, "an integer")
            return None
        if isinstance(value, str) and value.strip().isdecimal():
            value = int(value)  # order numbers sometimes come as strings
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadEventPayload(f"{self.where}.{name}: expected an integer, got {show(value)}")
        if minimum is not None and value < minimum:
            raise BadEventPayload(f"{self.where}.{name}: {value} is less than {minimum}")
        return value

    def decimal(self, name: str) -> Decimal:
        value = self.get(name)
        if value is None or value == "":
            return Decimal("0")
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise BadEventPayload(f"{self.where}.{name}: expected a number, got {show(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise BadEventPayload(f"{self.where}.{name}: {show(value)} is not a finite number")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise BadEventPayload(f"{self.where}.{name}: {show(value)} is not a number") from None
        if not number.is_finite():
            raise BadEventPayload(f"{self.where}.{name}: {show(value)} is not a finite number")
        return number

    def boolean(self, name: str) -> bool:
        value = self.get(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise BadEventPayload(f"{self.where}.{name}: expected true or false, got {show(value)}")
        return value

    def datetime(self, name: str, *, required: bool = False) -> dt.datetime | None:
        """A date-time; no zone means UTC (pressero.md §1.5); year 1 means unset (guessed:
        `guesses.ORDER_DATE_ZERO_YEAR`)."""
        value = self.get(name)
        if value is None or value == "":
            if required:
                raise self._missing(name, "an ISO date-time")
            return None
        if not isinstance(value, str):
            raise BadEventPayload(f"{self.where}.{name}: expected an ISO date-time string")
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", text))
        except ValueError:
            raise BadEventPayload(
                f"{self.where}.{name}: {show(value)} is not an ISO date-time"
            ) from None
        if parsed.year == g.ORDER_DATE_ZERO_YEAR:
            if required:
                raise self._missing(name, "a date-time, not year 1")
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)

    def date(self, name: str) -> dt.date | None:
        """The calendar date as written, without zone conversion: a requested date is a day."""
        value = self.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise BadEventPayload(f"{self.where}.{name}: expected an ISO date string")
        text = value.strip()
        try:
            day = dt.date.fromisoformat(text[:10])
        except ValueError:
            raise BadEventPayload(f"{self.where}.{name}: {show(value)} is not a date") from None
        if len(text) > 10:
            self.datetime(name)  # the time part must be valid too
        return None if day.year == g.ORDER_DATE_ZERO_YEAR else day
