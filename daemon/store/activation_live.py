"""When each (site, account) activation first went live in this store (the go-live cut-off)."""

from __future__ import annotations

from collections.abc import Iterable

from daemon.store.database import Txn

__all__ = ["first_live_at", "record_first_live_at", "record_live_activations"]


async def first_live_at(txn: Txn, site: str, account: str) -> float | None:
    """When the activation first went live, or None if it never was recorded."""
    at = await txn.scalar(
        "SELECT first_live_at FROM activation_live WHERE site = ? AND account = ?", (site, account)
    )
    return None if at is None else float(at)


async def record_first_live_at(txn: Txn, site: str, account: str, now: float) -> None:
    """The activation goes live now (it was not recorded before)."""
    await txn.execute(
        "INSERT INTO activation_live (site, account, first_live_at) VALUES (?, ?, ?)",
        (site, account, now),
    )


async def record_live_activations(
    txn: Txn, activations: Iterable[tuple[str, str]], now: float
) -> None:
    """Each (site, account) went live now, unless already recorded (the first moment stays)."""
    await txn.executemany(
        "INSERT INTO activation_live (site, account, first_live_at) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        [(site, account, now) for site, account in activations],
    )
