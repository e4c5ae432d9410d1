"""The Pace sandbox's fault knobs (`FAULT_KNOBS`) and one-shot fault kinds (`FAULT_KINDS`),
checked with `daemon.testing.faults`, and `Fault`, a SOAP fault the sandbox answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from daemon.providers.pace.guesses import UPDATE_ANSWER_CARRIES_OBJECT
from daemon.testing.faults import check_fault_knobs, fail_next_entries

__all__ = ["DEFAULT_FAULT_MESSAGE", "FAULT_KINDS", "FAULT_KNOBS", "Fault", "validated_faults"]

#: what one `fail_next` entry can do to the next matching request
FAULT_KINDS = (
    "drop",
    "drop_after_commit",
    "503",
    "fault",
    "entity_bomb",
    "external_entity",
    "not_xml",
    "drip",
    "huge",
)
_WSDL_FAULT_KINDS = ("drop", "503", "entity_bomb", "external_entity", "not_xml", "drip", "huge")

#: fault knob -> default; `set_faults` changes only the knobs given
FAULT_KNOBS: Mapping[str, object] = {
    "latency_ms": 0,
    "error_rate": 0.0,
    "fault_rate": 0.0,
    "drop_rate": 0.0,
    "drop_after_commit_rate": 0.0,
    "update_returns_object": UPDATE_ANSWER_CARRIES_OBJECT,
    "drip_interval_ms": 500,
    "huge_bytes": 200_000_000,
    "seed": 0,
    "fail_next": [],
}

DEFAULT_FAULT_MESSAGE = "Internal error: could not get a database connection (injected fault)"


class Fault(Exception):
    """A SOAP fault to answer: `code` "Client" (a bad request) or "Server" (a refusal)."""

    def __init__(self, code: Literal["Client", "Server"], message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def validated_faults(knobs: Mapping[str, Any]) -> dict[str, Any]:
    """Check fault knobs; raise ValueError naming the first wrong one."""
    return check_fault_knobs(knobs, FAULT_KNOBS, _validated_fail_next)


def _validated_fail_next(value: object) -> list[dict[str, Any]]:
    entries = []
    checked = fail_next_entries(
        value, {"operation"}, FAULT_KINDS, default_message=DEFAULT_FAULT_MESSAGE
    )
    for where, entry, kind, message in checked:
        operation = entry.get("operation")
        if operation is not None and not isinstance(operation, str):
            raise ValueError(f"{where}.operation: must be a string or null")
        if operation == "wsdl" and kind not in _WSDL_FAULT_KINDS:
            raise ValueError(
                f"{where}.kind: a WSDL fetch can only get {', '.join(_WSDL_FAULT_KINDS)}"
            )
        entries.append({"operation": operation, "kind": kind, "message": message})
    return entries
