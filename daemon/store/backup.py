"""A consistent copy of the store while the daemon runs: SQLite's online backup API.

The copy is read from its own read-only connection inside one read transaction (WAL keeps it
a snapshot while the daemon goes on writing), written to a temporary file beside the target,
checked with `PRAGMA quick_check`, flushed to disk and only then renamed into place: a crash
or a full disk never leaves a half-written file under the target's name.

Used by `esd backup FILE` (the operator's shell, in the store's group) and before a migration
upgrades a store (`Database.migrate` keeps the copy next to the store).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
import time
from pathlib import Path

from daemon.errors import StoreError

__all__ = ["BackupDone", "backup_file"]


@dataclasses.dataclass(frozen=True, slots=True)
class BackupDone:
    """What one backup wrote."""

    source: Path
    target: Path
    pages: int
    bytes: int
    seconds: float
    schema_version: int


def backup_file(source: Path, target: Path, *, overwrite: bool = False) -> BackupDone:
    """Copy the store at `source` to `target`; raises StoreError naming what went wrong."""
    if not source.is_file():
        raise StoreError(f"no store at {source}")
    if target.exists() and not overwrite:
        raise StoreError(f"{target} exists (use --force to overwrite it)")
    if target.resolve() == source.resolve():
        raise StoreError(f"{target} is the store itself")
    started = time.monotonic()
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open store {source}: {exc}") from exc
    try:
        partial.unlink(missing_ok=True)
        dst = sqlite3.connect(partial)
        try:
            # pages=-1: all in one step, so the copy is one snapshot of the source.
            src.backup(dst, pages=-1)
            check = dst.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise StoreError(f"the copy of {source} failed its check: {check}")
            version = int(dst.execute("PRAGMA user_version").fetchone()[0])
            pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
        finally:
            dst.close()
        with open(partial, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(partial, target)
        with contextlib.suppress(OSError):  # make the rename itself durable
            directory = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
    except sqlite3.Error as exc:
        raise StoreError(f"backup of {source} to {target} failed: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"backup of {source} to {target} failed: {exc.strerror or exc}") from exc
    finally:
        src.close()
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return BackupDone(
        source=source,
        target=target,
        pages=pages,
        bytes=target.stat().st_size,
        seconds=time.monotonic() - started,
        schema_version=version,
    )
