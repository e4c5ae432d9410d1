"""Storefront orders as stored: the last snapshot of each, and which (site, order) pairs exist.

The snapshot is written by the engine (the storefront handlers); this module is what the rest
of the daemon reads it through, so no caller outside the store names the `orders` table.
"""

from __future__ import annotations

import collections
import json
from typing import Any, NamedTuple

from daemon.orders.model import Order
from daemon.store.database import Txn
from daemon.store.json_columns import to_column

__all__ = [
    "OrderKey",
    "order_stored",
    "recent_order_numbers",
    "save_snapshot",
    "sites_of_order",
    "snapshot_of",
    "stored_order",
    "stored_sites",
]


class OrderKey(NamedTuple):
    """One storefront order: the site it came from and its number there."""

    site: str
    order_number: str


async def stored_order(txn: Txn, site: str, order_number: str) -> Order | None:
    """The order's last snapshot, or None if the order is not stored."""
    snapshot = await txn.scalar(
        "SELECT snapshot FROM orders WHERE site = ? AND order_number = ?", (site, order_number)
    )
    return None if snapshot is None else _decoded_order(str(snapshot))


#: the orders last decoded, by their snapshot's text (an order is read at its push and after
#: it: the decoding was about 5% of the daemon's samples in a push-bench profile)
_DECODED: collections.OrderedDict[str, Order] = collections.OrderedDict()
_DECODED_KEPT = 256


def _decoded_order(snapshot: str) -> Order:
    """The order a stored snapshot's text holds. The same text gives the same Order object
    (frozen, and read-only for every caller) while it is among the last few hundred."""
    order = _DECODED.get(snapshot)
    if order is not None:
        _DECODED.move_to_end(snapshot)
        return order
    order = Order.from_json(json.loads(snapshot))
    _keep_decoded(snapshot, order)
    return order


def _keep_decoded(snapshot: str, order: Order) -> None:
    _DECODED[snapshot] = order
    _DECODED.move_to_end(snapshot)
    if len(_DECODED) > _DECODED_KEPT:
        _DECODED.popitem(last=False)


async def order_stored(txn: Txn, site: str | None, order_number: str) -> bool:
    """Whether the order is stored (on `site`, or with `site` None on any site)."""
    if site is None:
        found = await txn.scalar(
            "SELECT 1 FROM orders WHERE order_number = ? LIMIT 1", (order_number,)
        )
    else:
        found = await txn.scalar(
            "SELECT 1 FROM orders WHERE site = ? AND order_number = ?", (site, order_number)
        )
    return found is not None


async def sites_of_order(txn: Txn, order_number: str) -> list[str]:
    """Every site on which an order with this number is stored, by name."""
    rows = await txn.fetchall(
        "SELECT site FROM orders WHERE order_number = ? ORDER BY site", (order_number,)
    )
    return [str(r[0]) for r in rows]


async def stored_sites(txn: Txn) -> list[str]:
    """Every site with a stored order (a site since removed from the config included)."""
    return [str(r[0]) for r in await txn.fetchall("SELECT DISTINCT site FROM orders")]


async def recent_order_numbers(txn: Txn, limit: int = 1000) -> list[str]:
    """The numbers of the most recently updated orders, newest first (for "did you mean");
    a number stored on several sites counts by its newest update."""
    rows = await txn.fetchall(
        "SELECT order_number FROM orders GROUP BY order_number"
        " ORDER BY MAX(updated_at) DESC LIMIT ?",
        (limit,),
    )
    return [str(r[0]) for r in rows]


async def save_snapshot(
    txn: Txn,
    site: str,
    order_number: str,
    snapshot: Any,
    event_id: int,
    now: float,
    *,
    decoded: Order | None = None,
) -> None:
    """Keep `snapshot` as the order's latest (insert or replace), with the event it came by.

    `decoded`: the Order `snapshot` decodes to, which the caller has already; the push that
    follows reads the order back and is then spared decoding it again."""
    text = to_column(snapshot)
    await txn.execute(
        "INSERT INTO orders (site, order_number, snapshot, event_id, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET snapshot = excluded.snapshot,"
        " event_id = excluded.event_id, updated_at = excluded.updated_at",
        (site, order_number, text, event_id, now),
    )
    if decoded is not None:
        # Keyed by the text, so a transaction that rolls back leaves nothing wrong behind.
        _keep_decoded(text, decoded)


async def snapshot_of(txn: Txn, site: str, order_number: str) -> Any | None:
    """The order's stored snapshot (parsed JSON), or None if it was never stored."""
    text = await txn.scalar(
        "SELECT snapshot FROM orders WHERE site = ? AND order_number = ?", (site, order_number)
    )
    return None if text is None else json.loads(text)
