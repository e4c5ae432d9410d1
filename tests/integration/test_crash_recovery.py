"""The proof: a real daemon, SIGKILLed while pushes are in flight, restarted, loses nothing.

Every event is processed exactly once, every order reaches the MIS exactly once (one job, one
line per item, though the daemon died mid-push and the sandbox drops answers after creating),
and every retry timer fires, none before its time, across the restarts.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path

import pytest

from daemon.orders.model import Payment
from daemon.providers.reference.sandbox import ReferenceSandbox
from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import config_text, make_order

pytestmark = pytest.mark.slow

ORDERS = 16
SECRET = "pw-Zq8#'\"x/y"


def submit(
    daemon: DaemonProcess,
    sock: Path,
    number: int,
    version: str = "v1",
    payment: Payment = Payment.PAID,
) -> dict[str, object]:
    order = make_order(str(1000 + number), items=2, payment=payment)
    result: dict[str, object] = daemon.call(
        sock,
        "submit",
        {
            "source": "storefront:shop",
            "dedupe_key": f"{order.order_number}-{version}",
            "kind": "order.snapshot",
            "payload": {"order": order.to_json()},
        },
    )
    return result


def counts(daemon: DaemonProcess, sock: Path) -> dict[str, int]:
    status = daemon.call(sock, "status")
    return dict(status["accounts"]["mis"]["states"])


def test_sigkill_mid_push_then_restart_processes_everything_once(tmp_path: Path) -> None:
    sandbox = ReferenceSandbox(login="esd", password=SECRET)
    sandbox.start()
    config = tmp_path / "esd.toml"
    sock = tmp_path / "esd.sock"
    config.write_text(
        config_text(
            tmp_path,
            accounts={
                "mis": {
                    "url": sandbox.url,
                    "password": SECRET.replace('"', '\\"'),
                    "concurrency": 4,
                }
            },
            retry="initial_seconds = 1\nmultiplier = 2.0\nmax_seconds = 2\n"
            "give_up_after_seconds = 600\njitter = 0.0",
        )
    )
    daemon = DaemonProcess(config, tmp_path)
    try:
        # Slow MIS so pushes are in flight when we kill; some creates lose their answer.
        sandbox.set_faults(latency_ms=150, drop_after_commit_rate=0.15, error_rate=0.1, seed=3)
        daemon.start()
        for n in range(ORDERS):
            assert submit(daemon, sock, n)["duplicate"] is False
        for cycle in range(3):
            before = counts(daemon, sock).get("pushed", 0)

            def progress_and_in_flight(before: int = before) -> bool:
                now = counts(daemon, sock)
                return now.get("pushed", 0) >= before + 4 and now.get("pushing", 0) > 0

            wait_until(progress_and_in_flight, 60, "progress, then an item in flight")
            daemon.kill()
            daemon.start()
            if cycle == 0:  # the storefront resends: acknowledged, ignored
                assert submit(daemon, sock, 0)["duplicate"] is True
        sandbox.set_faults(latency_ms=0, drop_after_commit_rate=0, error_rate=0)
        wait_until(lambda: counts(daemon, sock) == {"pushed": 2 * ORDERS}, 120, "every item pushed")
        assert daemon.terminate() == 0
    finally:
        daemon.close()
        state = sandbox.state()
        sandbox.stop()

    # Exactly one job per order and one line per item in the MIS.
    jobs = state["jobs"]
    references = [job["reference"] for job in jobs]
    assert len(references) == ORDERS == len(set(references))
    assert all(sorted(line["line_key"] for line in job["lines"]) == ["1", "2"] for job in jobs)

    db = sqlite3.connect(tmp_path / "esd.sqlite3")
    db.row_factory = sqlite3.Row
    # Every event processed exactly once: done, one attempt, nothing pending or poisoned.
    rows = db.execute("SELECT status, attempts, COUNT(*) AS n FROM events GROUP BY 1, 2").fetchall()
    assert {(r["status"], r["attempts"]) for r in rows} == {("done", 1)}
    snapshots = db.execute("SELECT COUNT(*) FROM events WHERE kind = 'order.snapshot'").fetchone()
    assert snapshots[0] == ORDERS
    created = db.execute("SELECT COUNT(*) FROM transitions WHERE trigger = 'created'").fetchone()
    assert created[0] == 2 * ORDERS
    # Each item's history is one unbroken path ending in pushed.
    for item in db.execute("SELECT id, state FROM items"):
        path = db.execute(
            "SELECT from_state, to_state FROM transitions WHERE subject_id = ?"
            " AND chart = 'order_item' ORDER BY id",
            (item["id"],),
        ).fetchall()
        assert all(a["to_state"] == b["from_state"] for a, b in itertools.pairwise(path))
        assert path[-1]["to_state"] == item["state"] == "pushed"
    # The kills left items in pushing; the restarts reconciled them.
    reconciled = db.execute(
        "SELECT COUNT(*) FROM transitions WHERE trigger IN"
        " ('reconciled_pushed', 'reconciled_absent')"
    ).fetchone()[0]
    assert reconciled > 0
    # Every retry timer fired, none early, none left behind.
    fired = db.execute(
        "SELECT payload, processed_at FROM events WHERE kind = 'timer.fired'"
        " AND json_extract(payload, '$.kind') = 'retry'"
    ).fetchall()
    assert fired, "the faults caused retries"
    for row in fired:
        assert row["processed_at"] >= json.loads(row["payload"])["due_at"]
    assert db.execute("SELECT COUNT(*) FROM timers WHERE kind = 'retry'").fetchone()[0] == 0
    db.close()
    # No secret in anything the daemon wrote.
    assert SECRET not in daemon.log_text()
