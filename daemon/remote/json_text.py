"""Parsing JSON text from outside (webhooks, storefront answers, config values) within a depth.

`json.loads` recurses once per nesting level: a text nested a thousand levels deep raises
RecursionError (not ValueError), which parse boundaries do not expect, so a hostile or broken
sender got an HTTP 500 or a traceback. `loads` measures the depth first, without recursing,
and refuses a text deeper than `MAX_DEPTH` with `JsonTooDeep`, a `json.JSONDecodeError`: every
boundary that already turns a JSON syntax error into a clean error handles it the same way.
Nothing esd reads legitimately comes near the limit (a Pressero order answer is about 6 deep).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final

__all__ = ["MAX_DEPTH", "JsonTooDeep", "depth_error", "loads", "too_deep_message"]

#: the deepest nesting of arrays and objects accepted
MAX_DEPTH: Final = 100

# A JSON string (brackets inside it do not nest) or one bracket. An unterminated string does
# not match as a string; its brackets then count, which can only refuse a text that is invalid.
_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def too_deep_message(limit: int = MAX_DEPTH) -> str:
    """The words every "too deep" error uses, so an operator sees one spelling."""
    return f"nested too deeply (more than {limit} levels)"


class JsonTooDeep(json.JSONDecodeError):
    """A JSON text nested deeper than the limit; `pos` is where it went over."""

    def __init__(self, doc: str, pos: int, limit: int) -> None:
        super().__init__(too_deep_message(limit), doc, pos)
        self.limit = limit


def depth_error(text: str, limit: int = MAX_DEPTH) -> JsonTooDeep | None:
    """`JsonTooDeep` if `text` nests arrays and objects deeper than `limit`, else None.

    Linear and without recursion. A text with no more brackets than `limit` cannot be too
    deep, which two C-speed counts show for nearly every text (a webhook body is checked on
    the event loop).
    """
    if text.count("[") + text.count("{") <= limit:
        return None
    depth = 0
    for token in _TOKEN.finditer(text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            if depth > limit:
                return JsonTooDeep(text, token.start(), limit)
        elif mark in "]}":
            depth -= 1
    return None


def loads(
    text: str | bytes | bytearray,
    *,
    limit: int = MAX_DEPTH,
    parse_constant: Callable[[str], Any] | None = None,
) -> Any:
    """`json.loads(text)`, refusing a text nested deeper than `limit` with `JsonTooDeep`."""
    if isinstance(text, bytes | bytearray):
        # as json.loads reads bytes (UTF-8, -16 or -32); a UnicodeDecodeError is a ValueError
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    error = depth_error(text, limit)
    if error is not None:
        raise error
    return json.loads(text, parse_constant=parse_constant)
