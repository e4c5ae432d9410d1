"""A store that cannot write raises StoreFull / StoreUnavailable, is recorded, and recovers.

SQLite's own SQLITE_FULL, made without filling a disk: `PRAGMA max_page_count` caps the file
(the full-disk test, tests/integration/test_full_disk.py, fills a real filesystem).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest

from daemon.errors import StoreFull, StoreUnavailable
from daemon.store.database import Database, unavailable


def test_sqlite_full_is_store_full_and_the_connection_stays_usable(tmp_path: Path) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "esd.sqlite3")
        try:
            async with db.exclusive() as txn:  # the writing connection's own limit
                pages = await txn.scalar("PRAGMA page_count")
                await txn.execute(f"PRAGMA max_page_count = {pages}")
            with pytest.raises(StoreFull) as caught:
                async with db.transaction() as txn:
                    await txn.execute(
                        "INSERT INTO alerts (account, subject, message, created_at)"
                        " VALUES ('a', 's', ?, 0)",
                        ("x" * 200_000,),
                    )
            assert caught.value.code == "SQLITE_FULL"
            assert db.health.as_dict()["state"] == "full" and db.health.since is not None
            assert "full" in str(db.health.last_error)
            with pytest.raises(StoreFull):  # and through the one-hop writer too
                await db.write(
                    lambda raw: raw.execute(
                        "INSERT INTO alerts (account, subject, message, created_at)"
                        " VALUES ('a', 's', ?, 0)",
                        ("x" * 200_000,),
                    )
                )
            async with db.exclusive() as txn:
                await txn.execute("PRAGMA max_page_count = 1073741823")
            async with db.transaction() as txn:  # no transaction was left open
                await txn.execute(
                    "INSERT INTO alerts (account, subject, message, created_at)"
                    " VALUES ('a', 's', 'm', 0)"
                )
            assert db.health.ok and db.health.since is None and db.health.episodes == 1
        finally:
            await db.close()

    anyio.run(main)


def test_only_errors_of_the_machine_are_store_unavailable() -> None:
    assert isinstance(unavailable(sqlite3.OperationalError("disk I/O error")), StoreUnavailable)
    assert isinstance(unavailable(sqlite3.OperationalError("database or disk is full")), StoreFull)
    assert unavailable(sqlite3.IntegrityError("UNIQUE constraint failed: events.id")) is None
    assert unavailable(sqlite3.OperationalError("no such table: nope")) is None
    assert unavailable(ValueError("disk I/O error")) is None
