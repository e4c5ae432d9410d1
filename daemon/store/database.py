"""The SQLite file under the daemon: opening, WAL, forward-only migrations, transactions.

One aiosqlite connection writes for the whole daemon. SQLite has one writer at a time anyway,
and one connection means every transaction sees every earlier commit. Transactions are
serialised by an anyio lock and opened with BEGIN IMMEDIATE, so a transaction never fails
half-way for a lock it could have taken at the start. A `reading` block has a read-only
connection of its own (`_Readers`) and one snapshot of what is committed: WAL lets it read
beside the writer, so it never waits for the lock (nor for a commit's disk sync under it).

Where statements run: inside a transaction (and a `reading` block) on the event loop itself,
a transaction's holding the lock; the disk is waited for on aiosqlite's thread. A statement
of a handler reads and writes SQLite's page cache in microseconds, while a hop to the thread
and back waited for a turn of the busy event loop, each of ten or so per event, with the lock
held all along: under load the lock, not SQLite, bounded the pushes (the push bench: 37 hops
an order, every other writer queued behind them). So: statements inline; COMMIT of a
power-safe transaction, which fsyncs, on the thread (`_commit_on_thread`), with a passive WAL
checkpoint every `_CHECKPOINT_EVERY` commits (the automatic one is off: it would run in
whichever commit crossed its threshold, an inline one too, and sync the disk on the loop);
`Txn.off_loop()` for the few statements that may touch many rows (retention, import pages,
metrics counts), on aiosqlite's thread for a transaction, on a worker thread for a reading.

Durability: WAL with synchronous=FULL fsyncs the log at every commit (anchors.md: SQLite is
durable at FULL, not at NORMAL in WAL mode). Group commit (daemon.store.inbox) amortises it.
The exception, `power_safe=False` (`transaction`, `write`), is for records that can be rebuilt
(a driver's claim, result and push journal, a polled status): they survive a crash of the
daemon, not a power cut, until the next power-safe commit syncs them too; they commit inline.

A full disk or an I/O error is not a bug of the caller: every sqlite3 error whose code says so
is raised as `StoreFull` / `StoreUnavailable` (`unavailable`, the one place that decides), and
recorded in `Database.health`, which the writing loops use to back off and retry.

Migrations are `migrations/NNNN_name.sql`, applied in order; `PRAGMA user_version` holds the
last applied number. A file from a newer esd (higher user_version) is refused, not guessed at.
Before a migration upgrades an existing store, a copy of it is kept beside it
(`esd.sqlite3.before-vN-from-vM`, daemon.store.backup); no copy, no upgrade.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import anyio
import anyio.to_thread
import structlog

from daemon.errors import MigrationError, StoreError, StoreFull, StoreUnavailable
from daemon.store.backup import backup_file
from daemon.store.health import StoreHealth

__all__ = ["Database", "Migration", "Txn", "WriterTurns", "migrations", "unavailable"]

Row = sqlite3.Row
_T = TypeVar("_T")
#: runs a function of the connection on the thread that may use it (`Txn.off_loop`)
_Hop = Callable[[Callable[[sqlite3.Connection], Any], sqlite3.Connection], Awaitable[Any]]

log = structlog.get_logger("esd.store")


#: SQLite's primary result codes that mean "the machine cannot write now", not "this statement
#: is wrong" (sqlite.org/rescode.html); extended codes (SQLITE_IOERR_WRITE, ...) share the low byte.
_SQLITE_IOERR = 10
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_UNAVAILABLE_CODES = frozenset({_SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN})


def unavailable(exc: BaseException) -> StoreUnavailable | None:
    """`exc` as the store-level error it is (StoreFull, StoreUnavailable), or None if it is
    some other error (a constraint, a bug, a malformed statement)."""
    if isinstance(exc, StoreUnavailable):
        return exc
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    if code is None:  # not from SQLite's C API: only the message is left to go by
        text = str(exc)
        if "database or disk is full" in text:
            code, name = _SQLITE_FULL, "SQLITE_FULL"
        elif "disk I/O error" in text:
            code, name = _SQLITE_IOERR, "SQLITE_IOERR"
        else:
            return None
    if code & 0xFF not in _UNAVAILABLE_CODES:
        return None
    kind = StoreFull if code & 0xFF == _SQLITE_FULL else StoreUnavailable
    error = kind(f"store cannot write: {exc} ({name or code})", code=name)
    error.__cause__ = exc
    return error


def _raise_classified(exc: BaseException) -> None:
    """Raise `exc` as a StoreUnavailable if it is one; else return (the caller re-raises)."""
    error = unavailable(exc)
    if error is not None and error is not exc:
        raise error from exc


class Migration:
    """One schema step: its number, name and SQL."""

    __slots__ = ("name", "sql", "version")

    def __init__(self, version: int, name: str, sql: str) -> None:
        self.version = version
        self.name = name
        self.sql = sql

    def __repr__(self) -> str:
        return f"Migration({self.version}, {self.name!r})"


def migrations() -> list[Migration]:
    """Every migration shipped with this esd, in order; numbers must run 1, 2, 3, ..."""
    found: list[Migration] = []
    folder = resources.files("daemon.store") / "migrations"
    for entry in folder.iterdir():
        name = entry.name
        if not name.endswith(".sql"):
            continue
        number, _, rest = name.partition("_")
        if not number.isdigit():
            raise MigrationError(f"migration file {name!r} must start with a number")
        found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"migration {expected} is missing (found {migration!r})")
    return found


class Txn:
    """An open transaction: thin typed helpers over the connection.

    Inline (a transaction's, a `reading` block's), each helper runs its statement and reads
    its answer on the event loop. Otherwise (`off_loop`, the group committer's) it does both in
    one hop to aiosqlite's thread (`Connection._execute` with a plain function): aiosqlite's
    public cursor API costs two or three hops per statement (execute, fetch, close).
    """

    __slots__ = ("_hop", "_inline", "_raw", "timers_changed")

    def __init__(self, raw: sqlite3.Connection, hop: _Hop, *, inline: bool = False) -> None:
        self._raw = raw
        self._hop = hop
        self._inline = inline
        #: set by `store.timers.set_timer`: the timer loop must look again after the commit
        self.timers_changed = False

    def off_loop(self) -> Txn:
        """This transaction, its statements run on a thread: for one that may touch many
        rows, which would hold up the event loop (a write holds up only other writers, a read
        nobody). Its `timers_changed` is its own: not for `set_timer`."""
        return Txn(self._raw, self._hop, inline=False)

    async def run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run `fn(connection)`: several statements in one go (one hop, off the loop)."""
        return await self._run(fn)

    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        try:
            if self._inline:
                return fn(self._raw)
            result: _T = await self._hop(fn, self._raw)
        except sqlite3.Error as exc:
            _raise_classified(exc)
            raise
        return result

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return lastrowid (for INSERT) or rowcount."""
        insert = sql.lstrip()[:6].upper() == "INSERT"

        def op(raw: sqlite3.Connection) -> int:
            cursor = raw.execute(sql, params)
            try:
                return int(cursor.lastrowid or 0) if insert else int(cursor.rowcount)
            finally:
                cursor.close()

        return await self._run(op)

    async def changes(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement and return how many rows it changed."""

        def op(raw: sqlite3.Connection) -> int:
            cursor = raw.execute(sql, params)
            try:
                return int(cursor.rowcount)
            finally:
                cursor.close()

        return await self._run(op)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""
        batch = list(rows)

        def op(raw: sqlite3.Connection) -> None:
            raw.executemany(sql, batch).close()

        await self._run(op)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Return every row of a query."""

        def op(raw: sqlite3.Connection) -> list[Row]:
            cursor = raw.execute(sql, params)
            try:
                return list(cursor.fetchall())
            finally:
                cursor.close()

        return await self._run(op)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Return the first row of a query, or None (the statement is run to completion)."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Return the first column of the first row, or None."""
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]


#: commits between two passive WAL checkpoints (SQLite's automatic one is at 1000 pages; a
#: commit of ours writes a few)
_CHECKPOINT_EVERY = 200


def _checkpoint(raw: sqlite3.Connection) -> None:
    """Copy what it can of the WAL into the database, waiting for no reader (PASSIVE): the
    WAL stays small. A failure is left for the next one (the data is safe in the WAL)."""
    with contextlib.suppress(sqlite3.Error):
        raw.execute("PRAGMA wal_checkpoint(PASSIVE)").close()


class WriterTurns:
    """Whose turn it is to write: the one connection's lock, with two queues.

    A prompt writer (a transaction that does not wait for the disk: a driver's claim, result
    or journal step, run inline on the event loop in well under a millisecond) waits ahead of
    the power-safe ones (the event processor's batches and the inbox's group commits, which
    hold the lock while the disk syncs). Each queue is first come, first served, and a free
    lock is taken without a turn of the event loop. Prompt writers are few at a time (a claim
    or result and a journal step per push in flight) and short, so the others still get their
    turn. While 400 orders poured in (the push bench, Tharstern at concurrency 8), a claim
    took 7.9 ms waiting behind them in one queue, 3.2 ms with two (0.6 ms once they were in).
    """

    __slots__ = ("_held", "_others", "_prompt")

    def __init__(self) -> None:
        self._held = False
        self._prompt: collections.deque[asyncio.Future[None]] = collections.deque()
        self._others: collections.deque[asyncio.Future[None]] = collections.deque()

    def locked(self) -> bool:
        return self._held

    async def acquire(self, *, prompt: bool) -> None:
        """Wait for the turn (the lock is then held until `release`)."""
        if not self._held:  # a waiter is only ever queued while the lock is held
            self._held = True
            return
        queue = self._prompt if prompt else self._others
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(turn)
        try:
            await turn
        except BaseException:
            if turn.done() and not turn.cancelled():
                self.release()  # handed the turn as it was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):  # already skipped by a release
                    queue.remove(turn)
            raise

    def release(self) -> None:
        """Hand the lock to the first prompt writer waiting, else to the first other one."""
        for queue in (self._prompt, self._others):
            while queue:
                turn = queue.popleft()
                if not turn.done():  # a cancelled waiter's future is done: skipped
                    turn.set_result(None)
                    return
        self._held = False


class Database:
    """The daemon's SQLite store."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._commits = 0  # since the last checkpoint
        self._lock = WriterTurns()
        self._readers = _Readers(path)
        #: can the store write now? (kept by every write here and by the group committer)
        self.health = StoreHealth(path)

    @classmethod
    async def open(cls, path: Path, *, migrate: bool = True) -> Database:
        """Open (creating if needed) the store at `path` and bring its schema up to date."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(str(path), isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        db = cls(conn, path)
        try:
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=FULL",
                "PRAGMA foreign_keys=ON",
                "PRAGMA busy_timeout=5000",
                "PRAGMA wal_autocheckpoint=0",  # ours run on the thread (module docstring)
            ):
                await conn.execute(pragma)
            if migrate:
                await db.migrate()
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        """Close the connections (a checkpoint leaves the WAL small for the next start)."""
        self._readers.close()
        with contextlib.suppress(sqlite3.Error):
            await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        await self._conn.close()

    async def version(self) -> int:
        """The schema version of the file."""
        cursor = await self._conn.execute("PRAGMA user_version")
        row = await cursor.fetchone()
        await cursor.close()
        return int(row[0]) if row else 0

    async def migrate(self, *, target: int | None = None) -> list[int]:
        """Apply every migration above the file's version (up to `target`); return those applied."""
        available = migrations()
        latest = available[-1].version if available else 0
        target = latest if target is None else target
        current = await self.version()
        if current > latest:
            raise MigrationError(
                f"store {self.path} has schema version {current}, newer than this esd knows "
                f"({latest}); run the newer esd or restore a backup"
            )
        pending = [m for m in available if current < m.version <= target]
        if current > 0 and pending:
            await self._keep_copy_before_migrating(current, pending[-1].version)
        applied: list[int] = []
        for migration in available:
            if current < migration.version <= target:
                try:
                    # executescript commits; each migration runs in its own explicit transaction.
                    await self._conn.executescript(
                        f"BEGIN IMMEDIATE;\n{migration.sql}\n"
                        f"PRAGMA user_version = {migration.version};\nCOMMIT;"
                    )
                except sqlite3.Error as exc:
                    with contextlib.suppress(sqlite3.Error):
                        await self._conn.execute("ROLLBACK")
                    raise MigrationError(
                        f"migration {migration.version} ({migration.name}) failed: {exc}"
                    ) from exc
                applied.append(migration.version)
        return applied

    async def _keep_copy_before_migrating(self, current: int, target: int) -> None:
        """A copy of the store as it was, beside it, before a migration touches it: a bad
        upgrade is undone by stopping esd and putting the copy back. A copy left by an earlier
        try is the same store (each migration commits whole or not at all): kept, not redone."""
        copy = self.path.with_name(f"{self.path.name}.before-v{target}-from-v{current}")
        if copy.exists():
            return
        try:
            done = await anyio.to_thread.run_sync(backup_file, self.path, copy)
        except StoreError as exc:
            raise MigrationError(
                f"not upgrading store {self.path} from version {current} to {target}: "
                f"could not keep a copy first ({exc})"
            ) from exc
        log.info("store.copied_before_migration", copy=str(copy), bytes=done.bytes)

    @contextlib.asynccontextmanager
    async def transaction(self, *, power_safe: bool = True) -> AsyncIterator[Txn]:
        """One write transaction: committed when the block ends, rolled back if it raises.

        `power_safe=False` commits without waiting for the disk (synchronous=NORMAL for this
        transaction, see `write`), inline, and waits for its turn ahead of power-safe writers
        (`WriterTurns`).
        """
        await self._lock.acquire(prompt=not power_safe)
        try:
            txn = self._writer(inline=True)
            raw = self._conn._conn
            try:
                if not power_safe:  # the safety level cannot change inside a transaction
                    raw.execute("PRAGMA synchronous=NORMAL")
                await txn.execute("BEGIN IMMEDIATE")
                try:
                    yield txn
                except BaseException:
                    self._rollback()
                    raise
                try:
                    if power_safe:
                        with anyio.CancelScope(shield=True):
                            await self._commit_on_thread()
                    else:
                        raw.execute("COMMIT")
                        self._checkpoint_due(power_safe=False)
                except (sqlite3.Error, StoreUnavailable):
                    # A failed COMMIT (SQLITE_FULL, IOERR; raised as StoreFull from the
                    # thread) may leave the transaction open; SQLite's advice is an explicit
                    # ROLLBACK, or the next BEGIN fails.
                    self._rollback()
                    raise
            except sqlite3.Error as exc:
                self._note_failure(exc)
                _raise_classified(exc)
                raise
            except StoreUnavailable as exc:
                self.health.failed(exc)
                raise
            finally:
                if not power_safe:
                    with contextlib.suppress(sqlite3.Error):
                        raw.execute("PRAGMA synchronous=FULL")
        finally:
            self._lock.release()
        self.health.succeeded()

    async def _commit_on_thread(self) -> None:
        """COMMIT (the disk sync) on the SQLite thread, and every `_CHECKPOINT_EVERY` commits
        a passive checkpoint after it, in the same hop (the lock is held)."""
        checkpoint = self._checkpoint_due(power_safe=True)

        def commit(raw: sqlite3.Connection) -> None:
            raw.execute("COMMIT")
            if checkpoint:
                _checkpoint(raw)

        await self._writer().run(commit)

    def _checkpoint_due(self, *, power_safe: bool) -> bool:
        """Count a commit; True when a checkpoint should follow it. Only a power-safe commit,
        which runs on the SQLite thread, takes one: an inline commit's would sync on the loop."""
        self._commits += 1
        if power_safe and self._commits >= _CHECKPOINT_EVERY:
            self._commits = 0
            return True
        return False

    def _rollback(self) -> None:
        """ROLLBACK if a transaction is still open (a failed COMMIT may have ended it); inline:
        a rollback in WAL mode waits for no disk."""
        raw = self._conn._conn
        if raw.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                raw.execute("ROLLBACK")

    def _note_failure(self, exc: BaseException) -> None:
        error = unavailable(exc)
        if error is not None:
            self.health.failed(error)

    async def write(self, fn: Callable[[sqlite3.Connection], _T], *, power_safe: bool = True) -> _T:
        """A whole small write transaction (BEGIN IMMEDIATE, `fn`, COMMIT) in one hop to the
        SQLite thread (inline when not power-safe: there is no disk to wait for); rolled back
        if `fn` raises.

        `power_safe=False` commits without waiting for the disk (synchronous=NORMAL for this
        transaction): the commit survives a crash of the daemon, and may be lost to a power cut
        or a kernel crash until the next power-safe commit (every later FULL commit syncs it
        too). Only for records that can be rebuilt, such as a driver's push journal, whose every
        create is preceded by a lookup in the MIS.
        """
        checkpoint = self._checkpoint_due(power_safe=power_safe)

        def whole(raw: sqlite3.Connection) -> _T:
            if not power_safe:
                raw.execute("PRAGMA synchronous=NORMAL")
            try:
                raw.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(raw)
                    raw.execute("COMMIT")
                    if checkpoint:
                        _checkpoint(raw)
                except BaseException:
                    if raw.in_transaction:  # a failed COMMIT may have rolled back already
                        with contextlib.suppress(sqlite3.Error):
                            raw.execute("ROLLBACK")
                    raise
            finally:
                if not power_safe:
                    raw.execute("PRAGMA synchronous=FULL")
            return result

        await self._lock.acquire(prompt=not power_safe)
        try:
            with anyio.CancelScope(shield=True):  # never leave a transaction half-open
                try:
                    result = await self._writer(inline=not power_safe).run(whole)
                except StoreUnavailable as exc:
                    self.health.failed(exc)
                    raise
        finally:
            self._lock.release()
        self.health.succeeded()
        return result

    @contextlib.asynccontextmanager
    async def savepoint(
        self,
        txn: Txn,
        name: str = "event",
        *,
        finish: tuple[str, Sequence[Any]] | None = None,
    ) -> AsyncIterator[Txn]:
        """A nested unit inside `txn`: rolled back alone if it raises (the error propagates).

        `finish` is one last statement run with the RELEASE, in the same hop to SQLite.
        """
        await txn.execute(f"SAVEPOINT {name}")
        try:
            yield txn
        except BaseException as exc:

            def undo(raw: sqlite3.Connection) -> None:
                raw.execute(f"ROLLBACK TO {name}")
                raw.execute(f"RELEASE {name}")

            with anyio.CancelScope(shield=True):
                try:
                    await txn.run(undo)
                except (sqlite3.Error, StoreError):
                    # After SQLITE_FULL or IOERR SQLite may have rolled the whole transaction
                    # back, savepoint and all: the store error is the one to hear.
                    if unavailable(exc) is None:
                        raise
            raise
        else:

            def release(raw: sqlite3.Connection) -> None:
                if finish is not None:
                    raw.execute(*finish)
                raw.execute(f"RELEASE {name}")

            await txn.run(release)

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[Txn]:
        """The connection to oneself, with no transaction opened: for a writer that runs its
        own single-statement (autocommit) transactions on the SQLite thread, such as the
        inbox's group committer. Every statement it runs must commit or roll back whole."""
        await self._lock.acquire(prompt=False)
        try:
            yield self._writer()
        finally:
            self._lock.release()

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[Txn]:
        """Read-only access: one snapshot of what is committed, on a reader connection of its
        own, statements on the event loop (`Txn.off_loop()` for one that reads many rows, on a
        thread).

        Readers do not wait for the writer: WAL lets them read beside it. Before, a reading
        waited for the one connection's lock, which a power-safe commit holds while the disk
        syncs; a push's order and journal reads spent 2-3 ms a push waiting for it (the push
        bench at concurrency 8)."""
        try:
            raw = self._readers.take()
        except sqlite3.Error as exc:
            self._note_failure(exc)
            _raise_classified(exc)
            raise
        reusable = True  # unless SQLite failed: the caller's own exceptions leave it sound
        try:
            raw.execute("BEGIN")  # deferred: the snapshot is taken at the first read
            yield Txn(raw, _on_a_thread, inline=True)
        except sqlite3.Error as exc:
            reusable = False
            self._note_failure(exc)
            _raise_classified(exc)
            raise
        except StoreUnavailable as exc:  # an I/O error reading: the disk is failing
            reusable = False
            self.health.failed(exc)
            raise
        finally:
            self._readers.give_back(raw, reusable=reusable)

    def _writer(self, *, inline: bool = False) -> Txn:
        """A Txn on the writing connection (the lock must be held)."""
        return Txn(self._conn._conn, self._conn._execute, inline=inline)


async def _on_a_thread(fn: Callable[[sqlite3.Connection], _T], raw: sqlite3.Connection) -> _T:
    """Run `fn(raw)` on a worker thread; not cancellable midway: the connection goes back to
    the pool only once nothing uses it."""
    return await anyio.to_thread.run_sync(fn, raw)


class _Readers:
    """Read-only connections to the store, kept for the next `reading` (opening one costs
    more than a read). Each serves one reading block at a time: its snapshot is that block's."""

    #: connections kept while idle (more are opened while more blocks read at once)
    KEEP = 4

    def __init__(self, path: Path) -> None:
        self._path = path
        self._idle: list[sqlite3.Connection] = []
        self._closed = False

    def take(self) -> sqlite3.Connection:
        if self._idle:
            return self._idle.pop()
        raw = sqlite3.connect(str(self._path), isolation_level=None, check_same_thread=False)
        try:
            raw.row_factory = sqlite3.Row
            raw.execute("PRAGMA query_only=ON")  # a write through a reader is a bug: refused
            raw.execute("PRAGMA busy_timeout=5000")
            raw.execute("PRAGMA wal_autocheckpoint=0")  # as the writer's: it never writes
        except BaseException:
            raw.close()
            raise
        return raw

    def give_back(self, raw: sqlite3.Connection, *, reusable: bool) -> None:
        """End the block's snapshot and keep the connection (closed if the block failed, the
        pool is full or closed)."""
        try:
            if raw.in_transaction:
                raw.execute("ROLLBACK")  # it read only: nothing to keep
        except sqlite3.Error:
            reusable = False
        if reusable and not self._closed and len(self._idle) < self.KEEP:
            self._idle.append(raw)
        else:
            raw.close()

    def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()
