"""The durable store: SQLite through aiosqlite (see database.py for the why)."""

from daemon.store.database import Database, Txn

__all__ = ["Database", "Txn"]
