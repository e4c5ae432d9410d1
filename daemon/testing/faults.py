"""The fault knobs every sandbox has: checking them (`check_fault_knobs`), the one-shot
`fail_next` queue (its entries checked, the first match taken), and `FaultPlan`, what the faults
do to one request, decided when it arrives.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

__all__ = [
    "DRIP_INTERVAL",
    "HUGE_BYTES",
    "FaultPlan",
    "check_fault_knobs",
    "check_http_fail_next",
    "fail_next_entries",
    "take_http_fail_next",
]


def check_fault_knobs(
    knobs: Mapping[str, Any],
    known: Mapping[str, object],
    fail_next: Callable[[object], list[dict[str, Any]]],
) -> dict[str, Any]:
    """Check fault knobs against `known` (name -> default); raise ValueError naming the first
    wrong one. Numbers are >= 0 and finite, `*_rate` a fraction, `seed` an integer or null,
    booleans stay booleans, and `fail_next` is checked by the sandbox's own `fail_next`."""
    checked: dict[str, Any] = {}
    for name, value in knobs.items():
        where = f"faults.{name}"
        if name not in known:
            raise ValueError(f"{where}: unknown knob (known: {', '.join(known)})")
        if name == "fail_next":
            checked[name] = fail_next(value)
        elif isinstance(known[name], bool):
            if not isinstance(value, bool):
                raise ValueError(f"{where}: must be true or false")
            checked[name] = value
        elif name == "seed":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{where}: must be an integer or null")
            checked[name] = value
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{where}: must be a number >= 0")
        elif not math.isfinite(value):
            raise ValueError(f"{where}: must be finite")
        elif name.endswith("_rate") and value > 1:
            raise ValueError(f"{where}: must be a fraction from 0 to 1")
        else:
            checked[name] = value
    return checked


def fail_next_entries(
    value: object,
    matching_keys: Collection[str],
    kinds: Sequence[str],
    *,
    default_message: str = "rejected by an injected fault",
) -> Iterator[tuple[str, Mapping[str, Any], str, str]]:
    """The entries of a sandbox's `fail_next` queue, each with where it is (for errors), its
    kind and message checked; only `matching_keys`, `kind` and `message` are allowed. Raises
    ValueError naming the first wrong entry; the caller checks its own matching keys."""
    if not isinstance(value, list):
        raise ValueError("faults.fail_next: must be a list of objects")
    for i, entry in enumerate(value):
        where = f"faults.fail_next[{i}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: must be an object")
        unknown = sorted(set(entry) - {*matching_keys, "kind", "message"})
        if unknown:
            raise ValueError(f"{where}.{unknown[0]}: unknown key")
        kind = entry.get("kind")
        if not isinstance(kind, str) or kind not in kinds:
            raise ValueError(f"{where}.kind: must be one of {', '.join(kinds)}")
        message = entry.get("message", default_message)
        if not isinstance(message, str):
            raise ValueError(f"{where}.message: must be a string")
        yield where, entry, kind, message


def check_http_fail_next(
    value: object, kinds: Sequence[str], *, fold_case: bool = False
) -> list[dict[str, Any]]:
    """Check an HTTP sandbox's `fail_next` queue: one-shot faults matched by path prefix and
    method; raise ValueError naming the first wrong entry. `fold_case`: paths compare
    case-insensitively (as Pressero's routing does)."""
    entries = []
    checked = fail_next_entries(value, {"path_prefix", "method"}, kinds)
    for where, entry, kind, message in checked:
        prefix = entry.get("path_prefix", "/api")
        method = entry.get("method")
        if not isinstance(prefix, str):
            raise ValueError(f"{where}.path_prefix: must be a string")
        if method is not None and not isinstance(method, str):
            raise ValueError(f"{where}.method: must be a string or null")
        entries.append(
            {
                "path_prefix": prefix.lower() if fold_case else prefix,
                "method": method.upper() if method else None,
                "kind": kind,
                "message": message,
            }
        )
    return entries


def take_http_fail_next(
    queue: list[dict[str, Any]], method: str, path: str
) -> dict[str, Any] | None:
    """Take the first entry of a `check_http_fail_next` queue that matches the request off the
    queue (`path` lower-cased where the queue was checked with `fold_case`)."""
    for i, entry in enumerate(queue):
        if path.startswith(entry["path_prefix"]) and entry["method"] in (None, method):
            del queue[i]
            return entry
    return None


#: the "drip" and "huge" faults' defaults: a byte every half second, a 200 MB answer
DRIP_INTERVAL = 0.5
HUGE_BYTES = 200 * 1000 * 1000


@dataclasses.dataclass(frozen=True, slots=True)
class FaultPlan:
    """What the faults do to one request, decided when it arrives."""

    latency: float = 0.0  # seconds before acting
    before: str | None = None  # a fault kind acted on instead of the request ("drop", "503", ...)
    drop_after: bool = False  # act, then hang up
    message: str = ""  # what a fault that answers says
    retry_after: float = 1.0  # seconds, for a 429
    drip_interval: float = DRIP_INTERVAL  # seconds between the bytes of a "drip" answer
    huge_bytes: int = HUGE_BYTES  # the size of a "huge" answer

    @classmethod
    def queued(
        cls,
        entry: Mapping[str, Any],
        latency: float,
        retry_after: float = 1.0,
        faults: Mapping[str, Any] | None = None,
    ) -> FaultPlan:
        """The plan of a one-shot `fail_next` entry (its "kind" and "message"); `faults` give
        the "drip" and "huge" sizes (`drip_interval_ms`, `huge_bytes`) where the sandbox has
        them."""
        if entry["kind"] == "drop_after_commit":
            return cls(latency, drop_after=True)
        knobs = faults or {}
        return cls(
            latency,
            entry["kind"],
            False,
            entry["message"],
            retry_after,
            knobs.get("drip_interval_ms", DRIP_INTERVAL * 1000) / 1000,
            int(knobs.get("huge_bytes", HUGE_BYTES)),
        )
