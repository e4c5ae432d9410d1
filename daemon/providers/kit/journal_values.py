"""Typed readers of a push journal step's result.

A journal is written by the driver itself, so a value of the wrong type means the journal (or
the code that wrote it) is broken: retrying cannot help, so each reader raises `PermanentError`
naming the step and the key, never the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.errors import PermanentError

__all__ = ["journal_int", "journal_optional_int", "journal_text", "journal_warnings"]


def journal_text(done: Mapping[str, Any], key: str, step: str) -> str:
    """The non-empty string `step` recorded under `key`."""
    value = done.get(key)
    if not isinstance(value, str) or not value:
        raise PermanentError(f"push journal step {step!r} has no {key!r}")
    return value


def journal_int(done: Mapping[str, Any], key: str, step: str) -> int:
    """The integer (not a bool) `step` recorded under `key`."""
    value = done.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PermanentError(f"push journal step {step!r} has no {key!r}")
    return value


def journal_optional_int(done: Mapping[str, Any], key: str, step: str) -> int | None:
    """The integer `step` recorded under `key`, or None when it recorded none (or null)."""
    value = done.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise PermanentError(f"push journal step {step!r} has a malformed {key!r}")
    return value


def journal_warnings(done: Mapping[str, Any], step: str) -> tuple[str, ...]:
    """The warnings `step` recorded (a list of strings; none recorded: none)."""
    warnings = done.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise PermanentError(f"push journal step {step!r} has malformed 'warnings'")
    return tuple(warnings)
