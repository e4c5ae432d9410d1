"""Pure helpers of the Pace driver's look-ups: find conditions, key order, part numbers."""

from __future__ import annotations

from daemon.errors import BusinessRuleError
from daemon.providers.pace.find_expressions import FindExpression, Value, all_of, equals

__all__ = ["natural", "part_number", "where"]


def where(what: str, **conditions: Value) -> FindExpression:
    """`field = value and ...`; a value Pace cannot be asked about is the order's problem."""
    try:
        return all_of(*(equals(field, value) for field, value in conditions.items()))
    except (TypeError, ValueError) as exc:
        raise BusinessRuleError(f"{what}: cannot search EFI Pace: {exc}") from None


def natural(key: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key for Pace keys: "9" before "10", "1001:02" before "1001:10"."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in key.split(":"))


def part_number(key: str) -> str:
    """ "02" of the JobPart key "1001:02"."""
    return key.rpartition(":")[2]
