"""A failed push noted on the storefront item, once per failure episode (the engine, no sockets).

The note is a storefront write on the lease mechanism: each request is one `storefront_write`
timer of op `note`; answering it (`storefront.written`) clears it, as the actor would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from daemon.engine.engine import Engine
from daemon.engine.storefront_writes import note_reason
from daemon.store import inbox
from tests.helpers import ManualClock, make_order
from tests.unit.test_engine import (
    STOREFRONT,
    claim_and_report,
    ingest_and_process,
    run,
    snapshot,
    states,
)

SITE_EXTRA = 'storefront = "pressero"\n'


async def note_leases(engine: Engine) -> list[dict[str, Any]]:
    async with engine.db.reading() as txn:
        rows = await txn.fetchall(
            "SELECT payload FROM timers WHERE kind = 'storefront_write'"
            " AND json_extract(payload, '$.op') = 'note'"
        )
    return [json.loads(r[0]) for r in rows]


async def answer(engine: Engine, lease: dict[str, Any]) -> None:
    """The storefront took the note (what the storefront actor reports)."""
    keys = ("storefront", "site", "order", "seq", "op", "generation", "account")
    await engine.apply(
        inbox.NewEvent(
            "storefront:pressero",
            f"written-{lease['generation']}",
            "storefront.written",
            {k: lease[k] for k in keys},
        )
    )
    assert await note_leases(engine) == []


async def push_fails(engine: Engine, outcome: str, error: str) -> None:
    await claim_and_report(engine, outcome=outcome, error=error)


async def operator_push(engine: Engine, key: str) -> None:
    await engine.apply(
        inbox.NewEvent(
            "operator", key, "operator.push", {"site": "shop", "order": "1001", "account": None}
        )
    )


def test_one_note_per_failure_episode_and_one_when_pushed_later(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order(items=1)))
        # Episode 1: network errors retried until esd gives up; the retries note nothing.
        while True:
            await push_fails(engine, "transient", "NetworkError: connection reset")
            if (await states(engine))[("mis", 1)] == "failed":
                break
            assert await note_leases(engine) == [], "a retry is not a failure episode"
            clock.t += 86400 / 4
            await engine.fire_due_timers()
        [first] = await note_leases(engine)
        assert first["kind"] == "failed" and first["account"] == "mis"
        assert first["seq"] == 1 and first["order"] == "1001"
        assert "esd could not push this item to mis: gave up after" in first["text"]
        assert "connection reset" in first["text"]
        assert "esd push 1001 retries it" in first["text"]
        await answer(engine, first)
        # Episode 2: the operator pushes, the MIS refuses it: a second note.
        await operator_push(engine, "p1")
        await push_fails(engine, "permanent", "BusinessRuleError: customer not found: X")
        [second] = await note_leases(engine)
        assert second["kind"] == "failed" and second["generation"] != first["generation"]
        assert "customer not found: X" in second["text"]
        await answer(engine, second)
        # Fixed, pushed: one note saying so.
        await operator_push(engine, "p2")
        await claim_and_report(
            engine,
            outcome="pushed",
            order_external_id="J1001",
            items=[{"seq": 1, "external_id": "J1001-01"}],
        )
        notes = await note_leases(engine)
        assert [n["kind"] for n in notes] == ["pushed"]
        assert notes[0]["text"] == (
            "esd pushed this item to mis as MIS order J1001, item J1001-01"
            " after an earlier failure."
        )

    run(tmp_path, body, extra=STOREFRONT, site_extra=SITE_EXTRA)


def test_a_push_that_never_failed_gets_no_note(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order(items=1)))
        await push_fails(engine, "transient", "NetworkError: timed out")
        clock.t += 3600
        await engine.fire_due_timers()
        await claim_and_report(
            engine,
            outcome="pushed",
            order_external_id="J1",
            items=[{"seq": 1, "external_id": "J1-01"}],
        )
        assert (await states(engine))[("mis", 1)] == "pushed"
        assert await note_leases(engine) == []

    run(tmp_path, body, extra=STOREFRONT, site_extra=SITE_EXTRA)


def test_write_failures_false_writes_no_note(tmp_path: Path) -> None:
    async def body(engine: Engine, clock: ManualClock) -> None:
        await ingest_and_process(engine, snapshot(make_order(items=1)))
        await push_fails(engine, "permanent", "BusinessRuleError: customer not found: X")
        assert (await states(engine))[("mis", 1)] == "failed"
        assert await note_leases(engine) == []

    storefront = STOREFRONT.replace(
        'provider = "pressero"\n', 'provider = "pressero"\nwrite_failures = false\n'
    )
    run(tmp_path, body, extra=storefront, site_extra=SITE_EXTRA)


def test_a_note_reason_has_no_markup_no_newline_and_a_sane_length() -> None:
    html_page = (
        "<html><head><title>502</title></head>\n<body><b>Bad</b> &amp; gateway</body></html>"
    )
    assert note_reason(html_page) == "502 Bad & gateway"
    assert note_reason("a <script>alert(1)</script> b") == "a alert(1) b"
    assert note_reason("x < y") == "x y"
    long = note_reason("customer not found: " + "A" * 1000)
    assert len(long) == 240 and long.endswith("\u2026")
    assert note_reason("") == "no detail given"
