"""What stored storefront webhooks say about an order (read back by the engine)."""

from __future__ import annotations

from daemon.store.database import Txn

__all__ = ["seqs_of_webhook_type"]


async def seqs_of_webhook_type(
    txn: Txn, kinds: tuple[str, ...], subject: str, webhook_type: str
) -> list[int]:
    """The item seqs named by stored webhooks of `kinds` and `webhook_type` for `subject`."""
    marks = ",".join("?" * len(kinds))
    rows = await txn.fetchall(
        "SELECT DISTINCT json_extract(payload, '$.item_seq') FROM events"
        f" WHERE kind IN ({marks}) AND subject = ? AND json_extract(payload, '$.type') = ?",
        (*kinds, subject, webhook_type),
    )
    return [int(r[0]) for r in rows if r[0] is not None]
