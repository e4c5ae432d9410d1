"""Storefront to MIS end to end: the Pressero sandbox sends signed webhooks to a real daemon,
which reads each order back through the API, judges it, and pushes it into the MIS sandbox.
A webhook the storefront loses is caught by the reconciliation poll."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from daemon.providers.reference.sandbox import ReferenceSandbox
from daemon.storefronts.pressero.sandbox import DEFAULT_SITES, PresseroSandbox
from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import config_text
from tests.pressero_helpers import pressero_site_keys, pressero_storefront_toml

pytestmark = pytest.mark.slow

SITE = DEFAULT_SITES[0]
PRESSERO_PASSWORD = "pressero-Pw-42"


def item_states(db_path: Path) -> dict[tuple[str, int], str]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT order_number, seq, state FROM items").fetchall()
    return {(str(r[0]), int(r[1])): str(r[2]) for r in rows}


def test_webhooks_and_poll_bring_orders_from_the_storefront_to_the_mis(tmp_path: Path) -> None:
    pressero = PresseroSandbox(password=PRESSERO_PASSWORD)
    mis = ReferenceSandbox(login="esd", password="mis-pw-1")
    pressero.start()
    mis.start()
    config = tmp_path / "esd.toml"
    config.write_text(
        config_text(
            tmp_path,
            accounts={"mis": {"url": mis.url, "password": "mis-pw-1"}},
            account_extra='[accounts.mis.storefront_stages]\nshipped = "Shipping"\n',
            retry="initial_seconds = 1\nmax_seconds = 2\ngive_up_after_seconds = 600\njitter = 0",
            site_extra=pressero_site_keys(SITE),
            extra=pressero_storefront_toml(pressero, PRESSERO_PASSWORD, poll_seconds=2),
        )
    )
    daemon = DaemonProcess(config, tmp_path)
    sock = tmp_path / "esd.sock"
    db = tmp_path / "esd.sqlite3"
    try:
        daemon.start()
        port = daemon.call(sock, "status")["webhooks"]["port"]
        pressero.webhook_target = f"http://127.0.0.1:{port}/webhooks/pressero/shop"

        paid = pressero.place_order(
            items=({"ProductName": "Flyers", "Quantity": 250}, {"ProductName": "Cards"})
        )
        held = pressero.place_order(approved=False)
        denied = pressero.place_order(items=({}, {}), approved=False)
        unpaid = pressero.place_order(paid=False)
        wait_until(lambda: item_states(db).get((str(paid), 2)) == "pushed", 30, "paid pushed")
        assert item_states(db)[(str(held), 1)] == "pending"
        assert item_states(db)[(str(unpaid), 1)] == "pending"
        why = daemon.call(sock, "why", {"order": str(unpaid)})
        assert "not paid" in why["items"][0]["reasons"][0]

        pressero.approve_item(held, 1)
        pressero.approve_item(denied, 1)
        pressero.deny_item(denied, 2)
        pressero.lose_next_webhook()
        assert pressero.mark_paid(unpaid) is None, "this webhook is lost"
        wait_until(lambda: item_states(db).get((str(held), 1)) == "pushed", 30, "approved pushed")
        wait_until(lambda: item_states(db).get((str(denied), 2)) == "excluded", 30, "denied")
        wait_until(lambda: item_states(db).get((str(denied), 1)) == "pushed", 30, "the rest")
        # Only the reconciliation poll can bring the payment of `unpaid`.
        wait_until(
            lambda: item_states(db).get((str(unpaid), 1)) == "pushed",
            30,
            "the lost payment caught by the poll",
        )
        status = daemon.call(sock, "status")
        assert status["webhooks"]["rejections"] == {}

        # Write-back: the MIS ids reach the storefront items ...
        def item(number: int, seq: int) -> dict[str, object]:
            order = next(o for o in pressero.state()["orders"] if o["OrderNumber"] == number)
            return dict(next(i for i in order["Items"] if i["OrderItemSeq"] == seq))

        line_id = wait_until(lambda: item(paid, 1)["MisId"], 30, "MisId written back")
        # ... and a shipped line in the MIS moves the storefront item and adds its tracking.
        job = next(j for j in mis.state()["jobs"] if j["reference"].endswith(f":{paid}"))
        assert line_id == job["lines"][0]["line_id"]
        # The storefront records the shipment but the answer is lost: the retried write must
        # find it there and not add it twice.
        pressero.set_faults(
            fail_next=[
                {
                    "path_prefix": "/api/V2/Orders/Shipments",
                    "method": "POST",
                    "kind": "drop_after_commit",
                }
            ]
        )
        mis.set_line_status(job["job_id"], str(line_id), "shipped", ["1Z999AA10123456784"])
        daemon.call(sock, "sync", {})

        def shipment_written() -> bool:
            with sqlite3.connect(db) as conn:
                return bool(
                    conn.execute(
                        "SELECT 1 FROM events WHERE kind = 'storefront.written'"
                        " AND json_extract(payload, '$.op') = 'shipment'"
                    ).fetchone()
                )

        wait_until(shipment_written, 30, "the shipment write retried to success")
        shipments = pressero.state()["shipments"]
        assert [s["ShipTracking"] for s in shipments] == ["1Z999AA10123456784"]
        wait_until(lambda: item(paid, 1)["WorkflowStagePrinter"] == "Shipping", 30, "stage")
        history = [h for h in pressero.state()["status_history"] if h["OrderNumber"] == paid]
        assert [h["Stage"] for h in history] == ["Shipping"]
        assert history[0]["Notes"] == "MIS status: shipped"
        failed = [
            e
            for e in daemon.call(sock, "events", {"limit": 500})["events"]
            if e["kind"] == "storefront.write_failed"
        ]
        assert len(failed) == 1, "the lost answer was retried"
        detail = daemon.call(sock, "order", {"order": str(paid)})
        assert detail["items"][0]["tracking"] == ["1Z999AA10123456784"]
        assert detail["items"][0]["mis_status"] == "shipped"
        assert daemon.terminate() == 0
    finally:
        daemon.close()
        jobs = mis.state()["jobs"]
        pressero.stop()
        mis.stop()
    references = sorted(job["reference"] for job in jobs)
    assert len(references) == len(set(references)) == 4, "each order once in the MIS"
    with sqlite3.connect(db) as conn:
        sources = dict(conn.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind").fetchall())
        polled = conn.execute(
            "SELECT COUNT(*) FROM events WHERE kind = 'storefront.poll'"
        ).fetchone()[0]
    assert sources["storefront.webhook"] >= 6
    assert polled >= 1
    assert PRESSERO_PASSWORD not in daemon.log_text()
