"""`inbox.insert_events` (the group commit's batch insert) answers as `insert_event` does."""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.store import inbox
from daemon.store.database import Database


def event(source: str, key: str, n: int = 0) -> inbox.NewEvent:
    return inbox.NewEvent(source, key, "x", {"n": n}, subject=f"shop/{key}")


async def one_by_one(db: Database, events: list[inbox.NewEvent]) -> list[inbox.Stored]:
    async with db.transaction() as txn:
        return [await inbox.insert_event(txn, e, 1.0) for e in events]


async def batched(db: Database, events: list[inbox.NewEvent]) -> list[inbox.Stored]:
    async with db.transaction() as txn:
        return await inbox.insert_events(txn, events, 1.0)


async def rows(db: Database) -> list[tuple[int, str, str, str]]:
    async with db.reading() as txn:
        found = await txn.fetchall("SELECT id, source, dedupe_key, payload FROM events ORDER BY id")
    return [(r[0], r[1], r[2], r[3]) for r in found]


async def seed_old_event(db: Database, event_id: int) -> None:
    """Event `s`/`old`, stored earlier under `event_id` (so new rows' ids follow from it)."""
    async with db.transaction() as txn:
        await txn.execute(
            "INSERT INTO events (id, source, dedupe_key, kind, payload, received_at)"
            " VALUES (?, 's', 'old', 'x', '{}', 1.0)",
            (event_id,),
        )


def test_new_events_get_ascending_ids_in_order_and_their_payloads(tmp_path: Path) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "a.sqlite3")
        results = await batched(db, [event("s", f"k{n}", n) for n in range(5)])
        assert [r.duplicate for r in results] == [False] * 5
        assert [r.id for r in results] == sorted(r.id for r in results)
        stored = await rows(db)
        assert [(s, k, p) for _, s, k, p in stored] == [
            ("s", f"k{n}", f'{{"n":{n}}}') for n in range(5)
        ]
        assert [i for i, *_ in stored] == [r.id for r in results]
        await db.close()

    anyio.run(main)


def test_redeliveries_and_repeats_within_the_batch_are_duplicates_of_the_first(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "a.sqlite3")
        [earlier] = await batched(db, [event("s", "old")])
        results = await batched(
            db, [event("s", "new"), event("s", "old"), event("s", "new"), event("t", "new")]
        )
        assert [(r.id == earlier.id, r.duplicate) for r in results] == [
            (False, False),
            (True, True),
            (False, True),
            (False, False),
        ]
        assert results[2].id == results[0].id, "a repeat answers the id of its first occurrence"
        assert results[3].id != results[0].id, "the dedupe key is per source"
        assert len(await rows(db)) == 3
        await db.close()

    anyio.run(main)


def test_a_batch_larger_than_one_statement_dedupes_across_its_chunks(tmp_path: Path) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "a.sqlite3")
        events = [event("s", f"k{n}") for n in range(600)] + [event("s", "k3"), event("s", "k599")]
        results = await batched(db, events)
        assert sum(not r.duplicate for r in results) == 600
        assert results[600] == inbox.Stored(results[3].id, True)
        assert results[601] == inbox.Stored(results[599].id, True)
        assert len(await rows(db)) == 600
        await db.close()

    anyio.run(main)


def test_a_failing_batch_stores_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "a.sqlite3")
        bad = inbox.NewEvent("s", "bad", "x", {"n": object()})  # not JSON: the batch fails
        with pytest.raises(TypeError):
            # the first 256 are inserted by then: the transaction must take them back
            await batched(db, [*(event("s", f"k{n}") for n in range(300)), bad])
        assert await rows(db) == []
        await db.close()

    anyio.run(main)


@settings(max_examples=40, deadline=None)
@given(
    before=st.lists(st.sampled_from("abcdef"), max_size=4),
    batch=st.lists(st.tuples(st.sampled_from("st"), st.sampled_from("abcdefgh")), max_size=12),
)
def test_insert_events_answers_and_stores_what_insert_event_would(
    before: list[str], batch: list[tuple[str, str]]
) -> None:
    async def main(folder: Path) -> None:
        one = await Database.open(folder / "one.sqlite3")
        many = await Database.open(folder / "many.sqlite3")
        earlier = [event("s", key) for key in before]
        await one_by_one(one, earlier)
        await one_by_one(many, earlier)
        events = [event(source, key, n) for n, (source, key) in enumerate(batch)]
        assert await batched(many, events) == await one_by_one(one, events)
        assert await rows(many) == await rows(one)
        await one.close()
        await many.close()

    with tempfile.TemporaryDirectory() as folder:
        anyio.run(main, Path(folder))


def test_near_the_largest_rowid_ids_are_read_back_and_still_answer_right(tmp_path: Path) -> None:
    # From the largest rowid on, SQLite picks new rowids at random: the ids of new rows can no
    # longer be worked out from the largest one and are read back instead.
    async def main() -> None:
        db = await Database.open(tmp_path / "a.sqlite3")
        await seed_old_event(db, 2**63 - 3)
        keys = ["a", "old", "b", "a", "c"]  # "c" gets the first random rowid
        results = await batched(db, [event("s", key) for key in keys])
        stored = {key: i for i, _, key, _ in await rows(db)}
        assert [(r.id, r.duplicate) for r in results] == [
            (stored["a"], False),
            (2**63 - 3, True),
            (stored["b"], False),
            (stored["a"], True),
            (stored["c"], False),
        ]
        assert len(stored) == 4
        await db.close()

    anyio.run(main)


def test_ids_of_a_chunk_of_new_events_are_the_ones_after_the_largest(tmp_path: Path) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "a.sqlite3")
        await seed_old_event(db, 1000)
        results = await batched(db, [event("s", f"k{n}") for n in range(300)])
        assert [r.id for r in results] == list(range(1001, 1301))
        assert [i for i, *_ in await rows(db)] == [1000, *range(1001, 1301)]
        await db.close()

    anyio.run(main)
