"""`make bench`: speed and memory figures as JSON (never asserted by tests).

- inbox intake: order snapshots stored by many concurrent producers (group commit), events/s;
- processing: inbox -> push rules -> statechart -> store (items, history rows), events/s;
- memory: RSS of this process holding a store of 100k items with 10k in flight, driving the
  engine over it (the state lives in SQLite, not in Python objects);
- webhook intake: requests/s and ack latency over loopback HTTP, side by side with a bare
  endpoint and a one-commit-per-request store (`tests.bench.intake`);
- push: orders/s from the real daemon into each provider's sandbox (`tests.bench.push_targets`)
  at 20 ms per call, side by side with the latency-bound limit (`tests.bench.push`).
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from daemon.engine.context import order_subject
from daemon.engine.engine import Engine
from daemon.statecharts import load_charts
from daemon.store import inbox
from daemon.store.database import Database
from tests.bench.intake import intake_benchmark
from tests.bench.push import every_push_benchmark
from tests.helpers import ManualClock, make_config, make_order


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def snapshot(n: int) -> inbox.NewEvent:
    order = make_order(str(100000 + n), items=2)
    return inbox.NewEvent(
        "storefront:shop",
        f"o{n}",
        "order.snapshot",
        {"order": order.to_json()},
        subject=order_subject("shop", order.order_number),
    )


async def intake_and_processing(tmp: Path, events: int, producers: int) -> dict[str, Any]:
    db = await Database.open(tmp / "bench.sqlite3")
    engine = Engine(db, load_charts(), make_config(tmp), ManualClock(), rng=random.Random(0))
    prepared = [snapshot(n) for n in range(events)]
    async with anyio.create_task_group() as tg:
        tg.start_soon(engine.committer.run)
        start = time.perf_counter()

        async def produce(offset: int) -> None:
            for event in prepared[offset::producers]:
                await engine.ingest(event)

        async with anyio.create_task_group() as workers:
            for p in range(producers):
                workers.start_soon(produce, p)
        intake = time.perf_counter() - start
        tg.cancel_scope.cancel()
    start = time.perf_counter()
    handled = await engine.process_pending()
    processing = time.perf_counter() - start
    async with db.reading() as txn:
        transitions = await txn.scalar("SELECT COUNT(*) FROM transitions")
    await db.close()
    return {
        "events": events,
        "producers": producers,
        "intake_events_per_s": round(events / intake),
        "processing_events_per_s": round(handled / processing),
        "processing_transitions_per_s": round(transitions / processing),
        "durability": "WAL, synchronous=FULL (fsync per commit), group commit",
    }


async def memory(tmp: Path, orders: int, in_flight_orders: int) -> dict[str, Any]:
    baseline = rss_mb()
    db = await Database.open(tmp / "memory.sqlite3")
    engine = Engine(db, load_charts(), make_config(tmp), ManualClock(), rng=random.Random(0))
    for chunk in range(0, orders, 5000):
        await engine.committer.store_many([snapshot(n) for n in range(chunk, chunk + 5000)])
        await engine.process_pending()
    for n in range(in_flight_orders):  # 2 items each go to pushing
        await engine.apply(
            inbox.NewEvent(
                "actor:mis",
                f"claim{n}",
                "push.claim",
                {"site": "shop", "order": str(100000 + n), "account": "mis"},
            )
        )
    async with db.reading() as txn:
        items = await txn.scalar("SELECT COUNT(*) FROM items")
        flying = await txn.scalar("SELECT COUNT(*) FROM items WHERE state = 'pushing'")
    loaded = rss_mb()
    size = (tmp / "memory.sqlite3").stat().st_size
    await db.close()
    return {
        "items": items,
        "in_flight": flying,
        "rss_mb_before_store": round(baseline, 1),
        "rss_mb_with_store": round(loaded, 1),
        "store_file_mb": round(size / 2**20, 1),
    }


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="esd-bench-") as tmp:
        results = {
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "pipeline": await intake_and_processing(Path(tmp), 5000, 50),
            "memory": await memory(Path(tmp), 50_000, 5_000),
            "intake": await anyio.to_thread.run_sync(intake_benchmark, Path(tmp) / "intake"),
            "push": await anyio.to_thread.run_sync(every_push_benchmark, Path(tmp) / "push"),
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    anyio.run(main)
