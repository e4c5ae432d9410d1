"""Lease timers as rows: a lease is a timer whose payload names its request's generation."""

from __future__ import annotations

import json
from typing import Any

from daemon.store.database import Txn

__all__ = ["drop_lease_of_generation", "lease_payload"]


async def drop_lease_of_generation(txn: Txn, kind: str, subject: str, generation: int) -> bool:
    """Delete the (kind, subject) timer if `generation` still owns it; True if one went."""
    changed = await txn.changes(
        "DELETE FROM timers WHERE kind = ? AND subject = ?"
        " AND json_extract(payload, '$.generation') = ?",
        (kind, subject, generation),
    )
    return changed > 0


async def lease_payload(txn: Txn, kind: str, subject: str) -> dict[str, Any] | None:
    """The payload of the (kind, subject) timer, or None if there is none."""
    row = await txn.fetchone(
        "SELECT payload FROM timers WHERE kind = ? AND subject = ?", (kind, subject)
    )
    return None if row is None else dict(json.loads(row[0]))
