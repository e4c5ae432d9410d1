"""How the engine's store modules write JSON into a column: compact, sorted, UTF-8 as is."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["to_column"]


def to_column(value: Any) -> str:
    """`value` as the JSON text a column holds (the same text for the same value)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
