"""Order items x service accounts: the rows the order_item statechart moves."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from daemon.store.database import Txn

__all__ = ["ItemRow", "create_item", "items_in_state", "items_of_order", "update_item"]


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
