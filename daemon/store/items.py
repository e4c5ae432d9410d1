"""Order items x service accounts: the rows the order_item statechart moves."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from daemon.store.database import Txn
from daemon.store.orders import OrderKey

__all__ = [
    "ItemCount",
    "ItemRow",
    "count_items",
    "create_item",
    "find_items",
    "has_open_items",
    "item_accounts",
    "item_counts",
    "items_in_state",
    "items_of_order",
    "orders_in_state",
    "orders_to_poll",
    "update_item",
]


@dataclasses.dataclass(frozen=True, slots=True)
class ItemRow:
    """One order item as seen by one service account."""

    id: int
    site: str
    order_number: str
    seq: int
    account: str
    state: str
    reasons: tuple[str, ...]
    external_id: str | None
    order_external_id: str | None
    last_error: str | None
    attempts: int
    first_failure_at: float | None
    next_retry_at: float | None
    pushed_at: float | None
    mis_status: str | None
    tracking: tuple[str, ...]
    created_at: float
    updated_at: float
    #: pushed by someone else (the storefront item carried a MisId esd did not write)
    adopted: bool = False
    #: the operator pushed it past the go-live cut-off (`esd push`)
    operator_asked: bool = False

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ItemRow:
        data = dict(row)
        data["reasons"] = tuple(json.loads(data["reasons"]))
        data["tracking"] = tuple(json.loads(data["tracking"]))
        data["adopted"] = bool(data.get("adopted"))
        data["operator_asked"] = bool(data.get("operator_asked"))
        return cls(**data)


async def items_of_order(
    txn: Txn, site: str, order_number: str, account: str | None = None
) -> list[ItemRow]:
    """Every item row of one order (optionally of one account), by account then seq."""
    sql = "SELECT * FROM items WHERE site = ? AND order_number = ?"
    params: list[Any] = [site, order_number]
    if account is not None:
        sql += " AND account = ?"
        params.append(account)
    rows = await txn.fetchall(sql + " ORDER BY account, seq", params)
    return [ItemRow.from_row(r) for r in rows]


async def items_in_state(txn: Txn, state: str) -> list[ItemRow]:
    """Every item row in `state`, oldest first."""
    rows = await txn.fetchall("SELECT * FROM items WHERE state = ? ORDER BY id", (state,))
    return [ItemRow.from_row(r) for r in rows]


@dataclasses.dataclass(frozen=True, slots=True)
class ItemCount:
    """How many items of one account are in one state."""

    account: str
    state: str
    count: int


async def item_counts(txn: Txn) -> list[ItemCount]:
    """The number of items per (account, state), for every pair that has any."""
    rows = await txn.fetchall(
        "SELECT account, state, COUNT(*) AS n FROM items GROUP BY account, state"
    )
    return [ItemCount(str(r["account"]), str(r["state"]), int(r["n"])) for r in rows]


async def item_accounts(txn: Txn) -> list[str]:
    """Every account items are stored under (one since removed from the config included)."""
    return [str(r[0]) for r in await txn.fetchall("SELECT DISTINCT account FROM items")]


def _filters(state: str | None, site: str | None, account: str | None) -> tuple[str, list[Any]]:
    """The WHERE clause (or "") and its parameters for the given filters."""
    clauses, params = [], []
    for column, value in (("state", state), ("site", site), ("account", account)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


async def count_items(
    txn: Txn, *, state: str | None = None, site: str | None = None, account: str | None = None
) -> int:
    """How many items match every filter given."""
    where, params = _filters(state, site, account)
    return int(await txn.scalar(f"SELECT COUNT(*) FROM items {where}", params) or 0)


async def find_items(
    txn: Txn,
    *,
    state: str | None = None,
    site: str | None = None,
    account: str | None = None,
    limit: int = 100,
) -> list[ItemRow]:
    """The items matching every filter given, the most recently changed first."""
    where, params = _filters(state, site, account)
    rows = await txn.fetchall(
        f"SELECT * FROM items {where} ORDER BY updated_at DESC, id DESC LIMIT ?",
        (*params, limit),
    )
    return [ItemRow.from_row(r) for r in rows]


async def orders_in_state(
    txn: Txn, account: str, state: str, *, limit: int | None = None
) -> list[OrderKey]:
    """The orders with an item of `account` in `state`, the one with the oldest such item
    first (at most `limit` of them).

    Read in pages along the (account, state) index, which holds each state's items in id
    order: the first `limit` orders cost a page or two however many are waiting (grouping all
    of them first made every push's look for the next order slower as the backlog grew).
    """
    found: dict[OrderKey, None] = {}
    page = 256 if limit is None else max(16, 4 * limit)
    after = 0
    while True:
        rows = await txn.fetchall(
            "SELECT id, site, order_number FROM items WHERE account = ? AND state = ?"
            " AND id > ? ORDER BY id LIMIT ?",
            (account, state, after, page),
        )
        for row in rows:
            found.setdefault(OrderKey(str(row[1]), str(row[2])), None)
            if limit is not None and len(found) >= limit:
                return list(found)
        if len(rows) < page:
            return list(found)
        after = int(rows[-1][0])


async def orders_to_poll(txn: Txn, account: str, final_statuses: Iterable[str]) -> list[OrderKey]:
    """The orders with an item of `account` pushed and not yet in a final MIS status
    (`final_statuses`, compared without regard to case)."""
    final = sorted(s.lower() for s in final_statuses)
    marks = ",".join("?" * len(final))
    rows = await txn.fetchall(
        "SELECT DISTINCT site, order_number FROM items"
        " WHERE account = ? AND state = 'pushed'"
        f" AND (mis_status IS NULL OR lower(mis_status) NOT IN ({marks}))",
        (account, *final),
    )
    return [OrderKey(str(r[0]), str(r[1])) for r in rows]


async def create_item(
    txn: Txn, site: str, order_number: str, seq: int, account: str, state: str, now: float
) -> ItemRow:
    """Insert a new item row in `state`."""
    row = await txn.fetchone(
        "INSERT INTO items (site, order_number, seq, account, state, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
        (site, order_number, seq, account, state, now, now),
    )
    assert row is not None
    return ItemRow.from_row(row)


_JSON_FIELDS = frozenset({"reasons", "tracking"})
_UPDATABLE = frozenset(f.name for f in dataclasses.fields(ItemRow)) - {
    "id",
    "site",
    "order_number",
    "seq",
    "account",
    "created_at",
    "state",
}


async def update_item(txn: Txn, item_id: int, now: float, fields: Mapping[str, Any]) -> None:
    """Set data fields of an item (never `state`: that moves only through the statechart)."""
    if not fields:
        return
    unknown = set(fields) - _UPDATABLE
    if unknown:
        raise ValueError(f"cannot update item fields {sorted(unknown)}")
    names = list(fields)
    values = [
        json.dumps(list(v)) if name in _JSON_FIELDS else v
        for name, v in ((n, fields[n]) for n in names)
    ]
    assignments = ", ".join(f"{name} = ?" for name in names)
    await txn.execute(
        f"UPDATE items SET {assignments}, updated_at = ? WHERE id = ?", (*values, now, item_id)
    )


def seqs(items: Iterable[ItemRow]) -> list[int]:
    """The sequence numbers of `items`."""
    return [i.seq for i in items]


async def has_open_items(txn: Txn, site: str, order_number: str) -> bool:
    """Whether an item of the order still waits on the push rules (pending or ready)."""
    return bool(
        await txn.scalar(
            "SELECT COUNT(*) FROM items WHERE site = ? AND order_number = ?"
            " AND state IN ('pending', 'ready')",
            (site, order_number),
        )
    )
