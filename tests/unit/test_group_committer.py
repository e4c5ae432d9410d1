"""`GroupCommitter`: an acknowledged event is committed; a failure reaches its producers only."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from daemon.store import inbox
from daemon.store.database import Database
from tests.helpers import ManualClock


def event(key: str, payload: dict[str, Any] | None = None) -> inbox.NewEvent:
    return inbox.NewEvent("s", key, "x", payload if payload is not None else {"key": key})


async def with_committer(
    path: Path, body: Callable[[Database, inbox.GroupCommitter], Awaitable[None]]
) -> None:
    """Run `body` with a store at `path` and its committer running."""
    db = await Database.open(path)
    committer = inbox.GroupCommitter(db, ManualClock())
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(committer.run)
            with anyio.fail_after(30):
                await body(db, committer)
            tg.cancel_scope.cancel()
    finally:
        await db.close()


def stored_keys(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [row[0] for row in conn.execute("SELECT dedupe_key FROM events ORDER BY id")]


def test_each_store_returns_only_once_another_connection_sees_its_row(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    seen: list[tuple[int, Any]] = []

    async def body(db: Database, committer: inbox.GroupCommitter) -> None:
        with contextlib.closing(sqlite3.connect(path)) as outside:

            async def produce(n: int) -> None:
                stored = await committer.store(event(f"k{n}"))
                row = outside.execute(
                    "SELECT dedupe_key FROM events WHERE id = ?", (stored.id,)
                ).fetchone()
                seen.append((n, row))

            async with anyio.create_task_group() as producers:
                for n in range(300):
                    producers.start_soon(produce, n)

    anyio.run(with_committer, path, body)
    assert sorted(seen) == [(n, (f"k{n}",)) for n in range(300)]


@pytest.mark.parametrize(
    ("bad_key", "bad_payload", "error"),
    [
        ("bad", {"n": object()}, "is not JSON serializable"),
        # JSON's escapes carry lone surrogates, which SQLite cannot store: in the batch's one
        # INSERT such a row would fail every producer of the batch
        ("bad", {"type": "X\ud800"}, "event payload: not storable text (a lone surrogate"),
        ("bad\udfff", {"n": 1}, "event dedupe_key: not storable text (a lone surrogate at"),
    ],
)
def test_an_event_the_store_cannot_take_fails_its_own_producer_only(
    tmp_path: Path, bad_key: str, bad_payload: dict[str, Any], error: str
) -> None:
    path = tmp_path / "a.sqlite3"
    outcomes: dict[str, inbox.Stored | Exception] = {}

    async def body(db: Database, committer: inbox.GroupCommitter) -> None:
        async def produce(key: str, payload: dict[str, Any]) -> None:
            try:
                outcomes[key] = await committer.store(event(key, payload))
            except (TypeError, ValueError) as exc:
                outcomes[key] = exc

        async with anyio.create_task_group() as producers:
            for n in range(10):
                producers.start_soon(produce, f"k{n}", {"n": n, "text": "é"})
            producers.start_soon(produce, bad_key, bad_payload)

    anyio.run(with_committer, path, body)
    assert error in str(outcomes.pop(bad_key))
    assert all(isinstance(o, inbox.Stored) and not o.duplicate for o in outcomes.values())
    assert sorted(stored_keys(path)) == sorted(outcomes)


def test_a_batch_the_store_refuses_is_refused_to_its_producers_and_stores_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.sqlite3"
    outcomes: dict[str, inbox.Stored | Exception] = {}
    later: list[inbox.Stored] = []

    async def body(db: Database, committer: inbox.GroupCommitter) -> None:
        def refuse_boom(raw: sqlite3.Connection) -> None:
            raw.execute(
                "CREATE TRIGGER refuse_boom BEFORE INSERT ON events"
                " WHEN NEW.dedupe_key = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END"
            )

        await db.write(refuse_boom)

        async def produce(key: str) -> None:
            try:
                outcomes[key] = await committer.store(event(key))
            except sqlite3.IntegrityError as exc:
                outcomes[key] = exc

        async with anyio.create_task_group() as producers:
            for key in ("a", "b", "boom", "c", "d"):
                producers.start_soon(produce, key)
        # the committer goes on, and what was refused was not half-stored
        refused = [key for key, o in outcomes.items() if isinstance(o, Exception)]
        later.extend([await committer.store(event(key)) for key in refused if key != "boom"])

    anyio.run(with_committer, path, body)
    assert "boom refused" in str(outcomes["boom"])
    acknowledged = {key for key, o in outcomes.items() if isinstance(o, inbox.Stored)}
    assert all(not stored.duplicate for stored in later), "the refused batch stored nothing"
    assert sorted(stored_keys(path)) == sorted(acknowledged | {"a", "b", "c", "d"})


def test_a_store_that_is_gone_fails_the_producer_instead_of_leaving_it_waiting(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "a.sqlite3")
        committer = inbox.GroupCommitter(db, ManualClock())
        async with anyio.create_task_group() as tg:
            tg.start_soon(committer.run)
            first = await committer.store(event("before"))
            await db.close()
            with anyio.fail_after(10), pytest.raises(ValueError):
                await committer.store(event("after"))
            assert not first.duplicate
            tg.cancel_scope.cancel()

    anyio.run(main)


def test_every_commit_is_announced_to_on_commit_before_its_producer_goes_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.sqlite3"
    announced: list[tuple[int, int]] = []  # (rows stored, producers returned) at each call
    returned: list[inbox.Stored] = []

    async def body(db: Database, committer: inbox.GroupCommitter) -> None:
        committer.on_commit.append(
            lambda: announced.append((len(stored_keys(path)), len(returned)))
        )
        for n in range(3):  # one after another: one commit each
            returned.append(await committer.store(event(f"k{n}")))

    anyio.run(with_committer, path, body)
    assert announced == [(1, 0), (2, 1), (3, 2)]


def test_a_producer_cancelled_while_waiting_leaves_the_others_of_its_batch_answered(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.sqlite3"
    answered: dict[str, inbox.Stored] = {}
    scopes: list[anyio.CancelScope] = []

    async def body(db: Database, committer: inbox.GroupCommitter) -> None:
        quitter = anyio.CancelScope()
        scopes.append(quitter)

        async def produce(key: str) -> None:
            answered[key] = await committer.store(event(key))

        async def produce_then_quit() -> None:
            with quitter:
                await produce("quitter")

        # The database is held, so every producer below waits in one batch; once it is let
        # go, the batch commits and its producers still waiting hear it.
        async with anyio.create_task_group() as producers, db.exclusive():
            producers.start_soon(produce_then_quit)
            await anyio.wait_all_tasks_blocked()  # the quitter is first in the batch
            for key in ("a", "b", "c"):
                producers.start_soon(produce, key)
            await anyio.wait_all_tasks_blocked()
            assert answered == {}
            quitter.cancel()
            await anyio.wait_all_tasks_blocked()

    anyio.run(with_committer, path, body)
    assert scopes[0].cancelled_caught
    assert sorted(answered) == ["a", "b", "c"]
    assert len({stored.id for stored in answered.values()}) == 3
    # the cancelled producer's event was in the batch already: stored, not lost
    assert stored_keys(path) == ["quitter", "a", "b", "c"]
