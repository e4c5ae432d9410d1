"""The Pressero sandbox's wire helpers: dates as Pressero writes them, field look-ups that
ignore case, JSON bodies and query numbers checked, the order search's filters.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from daemon.storefronts.pressero.sandbox.data import SEARCH_COLUMNS, SEARCH_OPERATORS
from daemon.testing.json_sandbox import Rejected

__all__ = [
    "field",
    "json_object",
    "query_int",
    "read_datetime",
    "search_filter",
    "utcnow",
    "wire_datetime",
]


def wire_datetime(when: dt.datetime) -> str:
    """A date-time as the sandbox writes it: UTC, no zone (pressero.md §1.5: treated as UTC)."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


def read_datetime(value: object, where: str) -> dt.datetime:
    if not isinstance(value, str):
        raise Rejected(400, f"{where}: expected a date-time string")
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Rejected(400, f"{where}: {value!r} is not a date-time") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def field(data: Mapping[str, Any], name: str) -> Any:
    """`data[name]`, matching the name case-insensitively (pressero.md §1.2)."""
    if name in data:
        return data[name]
    folded = name.casefold()
    return next((v for k, v in data.items() if k.casefold() == folded), None)


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise Rejected(400, "the body is not valid JSON") from None


def json_object(body: bytes) -> dict[str, Any]:
    data = _json_body(body)
    if not isinstance(data, dict):
        raise Rejected(400, "the body must be a JSON object")
    return data


def query_int(query: Mapping[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    values = query.get(name)
    if not values:
        return default
    try:
        number = int(values[0])
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise Rejected(400, f"query parameter {name} must be an integer from {low} to {high}")
    return number


def search_filter(raw: object, where: str) -> Callable[[Mapping[str, Any]], bool]:
    if not isinstance(raw, dict):
        raise Rejected(400, f"{where}: expected an object")
    column = field(raw, "Column")
    value = field(raw, "Value")
    operator = str(field(raw, "Operator") or "").casefold()
    if column not in SEARCH_COLUMNS:
        raise Rejected(400, f"{where}.Column: unsupported (supported: {', '.join(SEARCH_COLUMNS)})")
    if operator not in SEARCH_OPERATORS:
        raise Rejected(400, f"{where}.Operator: unsupported ({', '.join(SEARCH_OPERATORS)})")
    wanted = str(value).casefold()

    def check(row: Mapping[str, Any]) -> bool:
        have = str(field(row, column)).casefold()
        return wanted in have if operator == "contains" else have == wanted

    return check


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
