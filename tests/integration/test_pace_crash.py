"""The proof for EFI Pace: the real daemon, SIGKILLed at every step boundary of a push, restarted
each time, leaves exactly one customer, one job, one part per item and one shipment (with its
carton) per address in Pace, though some creates also lose their answer.

The kill lands right after the daemon journals a step: the sandbox's latency holds the next
step's SOAP call in flight, so each run dies with a call unanswered, and restarts reconcile
through `find_pushed` before the push resumes from the journal.
"""

from __future__ import annotations

import sqlite3
import textwrap
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from daemon.orders.model import Address, Order, OrderItem, Payment, SiteUser
from daemon.providers.contract import push_reference
from daemon.providers.pace.sandbox import PaceSandbox
from tests.daemon_process import DaemonProcess, wait_until
from tests.pace_helpers import pace_account_toml

pytestmark = pytest.mark.slow

SECRET = "pace-crash-pw-Zq8#x/y"
ADDRESS_A = Address(
    first_name="Alice",
    last_name="Archer",
    business="Acme Corp",
    email="alice@acme.example",
    phone="555-0100",
    address1="1 Main St",
    city="Springfield",
    state="IL",
    zip="62701",
)
ADDRESS_B = Address(
    first_name="Bob",
    email="bob@acme.example",
    address1="9 Elm St",
    city="Shelbyville",
    state="IL",
    zip="62565",
)
ORDER = Order(
    site="shop",
    order_number="5001",
    site_name="Print Shop",
    payment=Payment.PAID,
    user=SiteUser(
        email=ADDRESS_A.email,
        first_name="Alice",
        last_name="Archer",
        phone=ADDRESS_A.phone,
        address=ADDRESS_A,
    ),
    items=(
        OrderItem(
            seq=1, product_name="Flyers", quantity=250, price=Decimal("49"), ship_to=ADDRESS_A
        ),
        OrderItem(seq=2, product_name="Poster", quantity=3, price=Decimal("30"), ship_to=ADDRESS_B),
    ),
)


def config_text(tmp_path: Path, url: str) -> str:
    return textwrap.dedent(
        f"""
        [listeners.webhook]
        port = 0
        [daemon]
        state_dir = "{tmp_path}"
        socket = "{tmp_path}/esd.sock"
        log_level = "debug"
        drain_seconds = 5
        [retry]
        initial_seconds = 1
        multiplier = 2.0
        max_seconds = 2
        give_up_after_seconds = 600
        jitter = 0.0
        """
    ) + pace_account_toml(url, SECRET, concurrency=2, rate_per_second=1000.0, create_customer=True)


def states(daemon: DaemonProcess, sock: Path) -> dict[str, int]:
    status = daemon.call(sock, "status")
    return dict(status["accounts"]["pace"]["states"])


def journal_steps(database: Path) -> int:
    if not database.exists():
        return 0
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT COUNT(*) FROM push_journal").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0
    finally:
        db.close()


def test_sigkill_at_every_push_step_then_restart_makes_each_object_once(tmp_path: Path) -> None:
    sandbox = PaceSandbox("esd", SECRET)
    sandbox.start()
    config = tmp_path / "esd.toml"
    sock = tmp_path / "esd.sock"
    database = tmp_path / "esd.sqlite3"
    config.write_text(config_text(tmp_path, sandbox.url))
    daemon = DaemonProcess(config, tmp_path)
    kills = 0
    state: dict[str, Any] = {}
    try:
        # Every SOAP call waits 80 ms before Pace acts; a fifth of the acts lose their answer.
        sandbox.set_faults(latency_ms=80, drop_after_commit_rate=0.2, seed=5)
        daemon.start()
        submitted = daemon.call(
            sock,
            "submit",
            {
                "source": "storefront:shop",
                "dedupe_key": "5001-v1",
                "kind": "order.snapshot",
                "payload": {"order": ORDER.to_json()},
            },
        )
        assert submitted["duplicate"] is False
        while True:
            steps = journal_steps(database)
            deadline = time.monotonic() + 60
            # Wait for the next step boundary (or the end), then kill at once.
            while journal_steps(database) <= steps:
                if states(daemon, sock).get("pushed") == 2:
                    break
                assert time.monotonic() < deadline, daemon.log_text()[-3000:]
                time.sleep(0.002)
            else:
                daemon.kill()
                kills += 1
                daemon.start()
                continue
            break
        sandbox.set_faults(latency_ms=0, drop_after_commit_rate=0)
        wait_until(lambda: states(daemon, sock) == {"pushed": 2}, 60, "both items pushed")
        assert daemon.terminate() == 0
    finally:
        daemon.close()
        state = sandbox.state()
        sandbox.stop()

    objects = state["objects"]
    # Killed after each journaled step (start, customer, 2 contacts, job, ..., cartons).
    assert kills >= 12
    (job,) = objects["Job"]
    assert job["importID"] == push_reference("pace", "shop", "5001")
    assert len(objects["Customer"]) == 1
    assert sorted(c["email"] for c in objects["Contact"]) == [ADDRESS_A.email, ADDRESS_B.email]
    assert sorted(p["description"] for p in objects["JobPart"]) == [
        "5001-1 Flyers",
        "5001-2 Poster",
    ]
    assert sorted(s["address1"] for s in objects["JobShipment"]) == ["1 Main St", "9 Elm St"]
    assert len(objects["Carton"]) == 2 and len(objects["JobContact"]) == 1

    db = sqlite3.connect(database)
    try:
        # Every event processed once; none poisoned.
        rows = db.execute("SELECT status, attempts FROM events GROUP BY 1, 2").fetchall()
        assert set(rows) == {("done", 1)}
        reconciled = db.execute(
            "SELECT COUNT(*) FROM transitions WHERE trigger IN"
            " ('reconciled_pushed', 'reconciled_absent')"
        ).fetchone()[0]
        assert reconciled > 0
        external = db.execute("SELECT seq, external_id FROM items ORDER BY seq").fetchall()
        assert external == [(1, f"{job['job']}:01"), (2, f"{job['job']}:02")]
    finally:
        db.close()
    assert SECRET not in daemon.log_text()
