"""A failed push is noted where the shop's staff look: on the storefront item (seed 001's red bar).

Real daemon, real Pressero and reference MIS sandboxes over loopback. The MIS refuses the push
(a 422, a business error); the storefront gets exactly one note naming the account and the
reason, even when the answer to the note write is lost; `esd push` after the fix pushes it
and one success note follows. With `write_failures = false` nothing is noted.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from daemon.providers.reference.sandbox import ReferenceSandbox
from daemon.storefronts.pressero.sandbox import DEFAULT_SITES, PresseroSandbox
from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import config_text
from tests.pressero_helpers import pressero_site_keys, pressero_storefront_toml

pytestmark = pytest.mark.slow

SITE = DEFAULT_SITES[0]
PRESSERO_PASSWORD = "pressero-Pw-42"
MIS_PASSWORD = "mis-pw-17"
#: the MIS's refusal: markup, and (as a badly behaved server might) the password it was sent
REFUSAL = f"customer not found: <b>ACME</b> (login esd/{MIS_PASSWORD})"


def write_config(
    tmp_path: Path, pressero: PresseroSandbox, mis: ReferenceSandbox, extra: str
) -> Path:
    config = tmp_path / "esd.toml"
    config.write_text(
        config_text(
            tmp_path,
            accounts={"mis": {"url": mis.url, "password": MIS_PASSWORD}},
            retry="initial_seconds = 1\nmax_seconds = 2\ngive_up_after_seconds = 600\njitter = 0",
            site_extra=pressero_site_keys(SITE),
            extra=pressero_storefront_toml(
                pressero, PRESSERO_PASSWORD, poll_seconds=600, extra=extra
            ),
        )
    )
    return config


def item_state(db: Path, order: int) -> str | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT state FROM items WHERE order_number = ? AND seq = 1", (str(order),)
        ).fetchone()
    return None if row is None else str(row[0])


def notes(pressero: PresseroSandbox, order: int) -> list[str]:
    """The esd notes in the item's status history, oldest first."""
    return [
        str(h["Notes"])
        for h in pressero.state()["status_history"]
        if h["OrderNumber"] == order and h["OrderItemSeq"] == 1 and "esd" in str(h["Notes"])
    ]


def storefront_row(pressero: PresseroSandbox, order: int) -> dict[str, Any]:
    found = next(o for o in pressero.state()["orders"] if o["OrderNumber"] == order)
    return dict(found["Items"][0])


def refuse_next_push(mis: ReferenceSandbox) -> None:
    mis.set_faults(
        fail_next=[
            {"path_prefix": "/api/jobs", "method": "POST", "kind": "422", "message": REFUSAL}
        ]
    )


def events_of(db: Path, kind: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(
            conn.execute(
                "SELECT COUNT(*) FROM events WHERE kind = ?"
                " AND json_extract(payload, '$.op') = 'note'",
                (kind,),
            ).fetchone()[0]
        )


def test_a_failed_push_is_noted_once_on_the_item_and_its_later_success_too(
    tmp_path: Path,
) -> None:
    pressero = PresseroSandbox(password=PRESSERO_PASSWORD)
    mis = ReferenceSandbox(login="esd", password=MIS_PASSWORD)
    pressero.start()
    mis.start()
    daemon = DaemonProcess(write_config(tmp_path, pressero, mis, ""), tmp_path)
    sock, db = tmp_path / "esd.sock", tmp_path / "esd.sqlite3"
    try:
        daemon.start()
        port = daemon.call(sock, "status")["webhooks"]["port"]
        hook = f"http://127.0.0.1:{port}/webhooks/pressero/shop"
        refuse_next_push(mis)
        order = pressero.place_order(emit=False)  # its webhook once the faults are set
        # The storefront records the note, but its answer is lost: the retry must find it.
        route_id = storefront_row(pressero, order)["OrderItemNumber"]
        pressero.set_faults(
            fail_next=[
                {
                    "path_prefix": f"/api/V2/Orders/{order}/Item/{route_id}/Status/",
                    "method": "PUT",
                    "kind": "drop_after_commit",
                }
            ]
        )
        assert pressero.send_webhook(hook, "OrderPlaced", SITE.site_id, order) == 200
        pressero.webhook_target = hook
        wait_until(lambda: item_state(db, order) == "failed", 30, "the push refused")
        wait_until(lambda: events_of(db, "storefront.written") == 1, 30, "the note retried")
        assert events_of(db, "storefront.write_failed") == 1, "the lost answer was retried"
        [note] = notes(pressero, order)
        assert note.startswith("esd could not push this item to mis: ")
        assert "customer not found: ACME" in note
        assert "esd push " + str(order) + " retries it" in note
        assert "<" not in note and MIS_PASSWORD not in note
        row = storefront_row(pressero, order)
        assert row["WorkflowStagePrinter"] == "Order Received", "a note leaves the stage"

        # Fixed (the MIS takes it now): the operator pushes, and one success note follows.
        daemon.call(sock, "push", {"order": str(order)})
        wait_until(lambda: item_state(db, order) == "pushed", 30, "pushed after the fix")
        wait_until(lambda: len(notes(pressero, order)) == 2, 30, "the success note")
        job = next(j for j in mis.state()["jobs"] if j["reference"].endswith(f":{order}"))
        first, success = notes(pressero, order)
        assert first == note
        assert success.startswith(f"esd pushed this item to mis as MIS order {job['job_id']}")
        assert "after an earlier failure" in success
        wait_until(lambda: storefront_row(pressero, order)["MisId"], 30, "MisId written back")
        assert len(notes(pressero, order)) == 2
        assert daemon.terminate() == 0
    finally:
        daemon.close()
        pressero.stop()
        mis.stop()


def test_write_failures_false_notes_nothing(tmp_path: Path) -> None:
    pressero = PresseroSandbox(password=PRESSERO_PASSWORD)
    mis = ReferenceSandbox(login="esd", password=MIS_PASSWORD)
    pressero.start()
    mis.start()
    config = write_config(tmp_path, pressero, mis, "write_failures = false\n")
    daemon = DaemonProcess(config, tmp_path)
    sock, db = tmp_path / "esd.sock", tmp_path / "esd.sqlite3"
    try:
        daemon.start()
        port = daemon.call(sock, "status")["webhooks"]["port"]
        pressero.webhook_target = f"http://127.0.0.1:{port}/webhooks/pressero/shop"
        refuse_next_push(mis)
        order = pressero.place_order()
        wait_until(lambda: item_state(db, order) == "failed", 30, "the push refused")
        daemon.call(sock, "push", {"order": str(order)})
        # The MisId write comes after the failure: had a note been asked for, it came first.
        wait_until(lambda: storefront_row(pressero, order)["MisId"], 30, "MisId written back")
        assert notes(pressero, order) == []
        assert events_of(db, "storefront.written") == 0
        assert daemon.terminate() == 0
    finally:
        daemon.close()
        pressero.stop()
        mis.stop()
