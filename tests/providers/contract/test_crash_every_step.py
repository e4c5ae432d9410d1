"""The crash proof, for every provider: the real daemon, SIGKILLed right after each journal step
of a push, restarted each time, leaves in the MIS exactly what one clean push makes, though a
share of the creates also lose their answer.

The kill lands right after the daemon journals a step: the sandbox's latency holds the next
call in flight, so each run dies with a call unanswered, and restarts reconcile through
`find_pushed` before the push resumes from the journal. What only a provider can check (its
objects one by one, the items' external ids) is its harness's `extra_checks_after_crash`.
"""

from __future__ import annotations

import sqlite3
import textwrap
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from daemon.providers.contract import push_reference
from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import daemon_tables_toml
from tests.providers.contract.conftest import SECRET
from tests.providers.contract.harness import Harness, MemoryJournal, Sandbox

pytestmark = pytest.mark.slow

#: every call waits this long before the MIS acts: the window the kill lands in
LATENCY_MS = 40


def _config(tmp_path: Path, harness: Harness, url: str) -> str:
    return (
        daemon_tables_toml(tmp_path, drain_seconds=5)
        + textwrap.dedent(
            """
        [retry]
        initial_seconds = 1
        multiplier = 2.0
        max_seconds = 2
        give_up_after_seconds = 600
        jitter = 0.0
        """
        )
        + harness.account_toml(url, SECRET)
    )


def _journal_steps(database: Path) -> int:
    if not database.exists():
        return 0
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT COUNT(*) FROM push_journal").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0
    finally:
        db.close()


def _clean_push(harness: Harness, sandbox: Sandbox) -> tuple[dict[str, int], int]:
    """What one uninterrupted push makes, and how many journal steps it records."""
    driver = harness.driver(sandbox.url, SECRET)
    journal = MemoryJournal()
    order = harness.order
    reference = push_reference(harness.account, order.site, order.order_number)

    async def push() -> None:
        try:
            await driver.push_order(order, order.items, journal, reference)
        finally:
            await driver.aclose()

    anyio.run(push)
    made = harness.created(sandbox.state())
    sandbox.reset()
    return made, len(journal.steps)


def test_sigkill_at_every_journal_step_then_restart_makes_each_object_once(
    harness: Harness, sandbox: Sandbox, tmp_path: Path
) -> None:
    expected, steps_of_a_push = _clean_push(harness, sandbox)
    config = tmp_path / "esd.toml"
    sock = tmp_path / "esd.sock"
    database = tmp_path / "esd.sqlite3"
    config.write_text(_config(tmp_path, harness, sandbox.url))
    daemon = DaemonProcess(config, tmp_path)
    items = len(harness.order.items)

    def states() -> dict[str, int]:
        return dict(daemon.call(sock, "status")["accounts"][harness.account]["states"])

    kills = 0
    state: dict[str, Any] = {}
    try:
        sandbox.set_faults(
            **{harness.latency_knob: LATENCY_MS, harness.lost_answer_rate_knob: 0.2, "seed": 5}
        )
        daemon.start()
        submitted = daemon.call(
            sock,
            "submit",
            {
                "source": "storefront:shop",
                "dedupe_key": f"{harness.order.order_number}-v1",
                "kind": "order.snapshot",
                "payload": {"order": harness.order.to_json()},
            },
        )
        assert submitted["duplicate"] is False
        while True:
            steps = _journal_steps(database)
            deadline = time.monotonic() + 60
            # Wait for the next step boundary (or the end), then kill at once.
            while _journal_steps(database) <= steps:
                if states().get("pushed") == items:
                    break
                assert time.monotonic() < deadline, daemon.log_text()[-3000:]
                time.sleep(0.002)
            else:
                daemon.kill()
                kills += 1
                daemon.start()
                continue
            break
        sandbox.set_faults(**{harness.latency_knob: 0, harness.lost_answer_rate_knob: 0.0})
        wait_until(lambda: states() == {"pushed": items}, 60, "every item pushed")
        assert daemon.terminate() == 0
    finally:
        daemon.close()
        state = sandbox.state()

    # Killed after (nearly) every step: the last ("done") ends the push, and a step journaled
    # with its successor in one breath may share a kill.
    assert kills >= steps_of_a_push - 2, (kills, steps_of_a_push)
    assert harness.created(state) == expected
    db = sqlite3.connect(database)
    try:
        rows = db.execute("SELECT status, attempts FROM events GROUP BY 1, 2").fetchall()
        assert set(rows) == {("done", 1)}  # every event processed once; none poisoned
        # a restart found a push in flight and reconciled it through `find_pushed`
        reconciled = db.execute(
            "SELECT COUNT(*) FROM transitions WHERE trigger IN"
            " ('reconciled_pushed', 'reconciled_absent')"
        ).fetchone()[0]
        assert reconciled > 0
        if harness.extra_checks_after_crash is not None:
            harness.extra_checks_after_crash(state, db)
    finally:
        db.close()
    assert SECRET not in daemon.log_text()
