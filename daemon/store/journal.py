"""The per-(order, account) push journal a driver resumes from (see providers.contract).

Each completed step is committed on its own once the driver records it: a crash of the daemon
after that commit never repeats the step, and a crash before it leaves the driver to look the
object up in the MIS by its deterministic reference. The write runs while the driver goes on to
its next MIS call (`record` waits only for the previous step's write; the actor `flush`es after
each push), and does not wait for the disk (`Database.write(power_safe=False)`): a power cut may
lose the last steps, which the driver then finds in the MIS the same way. That keeps a hop to
SQLite and an fsync off each of a push's dozen steps (the push bench: 0.82-0.83 -> 0.87 of the
limit at concurrency 8).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from daemon.store.database import Database, Txn

__all__ = ["StoreJournal", "clear_journal"]


class StoreJournal:
    """A `PushJournal` backed by the `push_journal` table."""

    def __init__(
        self,
        db: Database,
        site: str,
        order_number: str,
        account: str,
        steps: Mapping[str, Mapping[str, Any]],
        clock: Any,
    ) -> None:
        self._db = db
        self._key = (site, order_number, account)
        self._steps = dict(steps)
        self._clock = clock
        # The write of the last recorded step, still on its way to SQLite: the driver's next
        # MIS call overlaps it (a step's hop and commit are off the push's path); the next
        # record and `flush` wait for it, so steps are written in order and none is lost.
        self._writing: asyncio.Future[None] | None = None

    @classmethod
    async def load(
        cls, db: Database, site: str, order_number: str, account: str, clock: Any
    ) -> StoreJournal:
        """Read the steps recorded so far."""
        async with db.reading() as txn:
            rows = await txn.fetchall(
                "SELECT step, result FROM push_journal"
                " WHERE site = ? AND order_number = ? AND account = ?",
                (site, order_number, account),
            )
        return cls(db, site, order_number, account, {r[0]: json.loads(r[1]) for r in rows}, clock)

    @property
    def steps(self) -> dict[str, Mapping[str, Any]]:
        """Every recorded step and its result."""
        return dict(self._steps)

    def get(self, step: str) -> Mapping[str, Any] | None:
        """Return what `step` produced last time, or None if it never completed."""
        return self._steps.get(step)

    async def record(self, step: str, result: Mapping[str, Any]) -> None:
        """Record that `step` completed with `result` (kept across a crash of the daemon once
        written: the write runs while the caller goes on; `flush` waits for it)."""
        row = (*self._key, step, json.dumps(dict(result), sort_keys=True), self._clock.now())

        def insert(raw: sqlite3.Connection) -> None:
            raw.execute(
                "INSERT INTO push_journal (site, order_number, account, step, result, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET result = excluded.result,"
                " recorded_at = excluded.recorded_at",
                row,
            )

        await self.flush()
        self._steps[step] = dict(result)
        # While the store cannot write (a full disk) the step waits and is tried again, and
        # `flush` with it: the push goes on only once its journal is kept.
        self._writing = asyncio.ensure_future(
            self._db.health.retrying(
                lambda: self._db.write(insert, power_safe=False), "push journal"
            )
        )

    async def flush(self) -> None:
        """Wait until every recorded step is committed (raises what a write raised)."""
        writing, self._writing = self._writing, None
        if writing is not None:
            await asyncio.shield(writing)


async def clear_journal(txn: Txn, site: str, order_number: str, account: str) -> None:
    """Forget the steps of one (order, account) (used when the operator re-pushes from zero)."""
    await txn.execute(
        "DELETE FROM push_journal WHERE site = ? AND order_number = ? AND account = ?",
        (site, order_number, account),
    )
