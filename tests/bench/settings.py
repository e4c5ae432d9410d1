"""Reading the benchmarks' environment overrides (each bench documents its own names)."""

from __future__ import annotations

import os

__all__ = ["env_int"]


def env_int(name: str, default: int) -> int:
    """The positive whole number in environment variable `name`, or `default` when unset;
    anything else stops the bench with a message naming the variable."""
    value = os.environ.get(name, "")
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"{name} must be a positive whole number, not {value!r}")
    return int(value)
