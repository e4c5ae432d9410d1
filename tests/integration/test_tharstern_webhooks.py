"""Tharstern end to end over real sockets: an order flows from the Pressero sandbox through a
real daemon into the Tharstern sandbox as an estimate and a job, held until eDocBuilder made its
production file, which is then attached to the job once; Tharstern's webhooks (one lost
then resent, one with a wrong secret, one redelivered) bring the job's status and tracking
number back to the storefront once, and a change whose webhook never comes is caught by the
poll fallback."""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path

import httpx
import pytest

from daemon.providers.tharstern import guesses as g
from daemon.providers.tharstern.sandbox import TharsternSandbox
from daemon.storefronts.pressero import guesses as pg
from daemon.storefronts.pressero.sandbox import DEFAULT_SITES, PresseroSandbox
from tests.daemon_process import DaemonProcess, wait_until

pytestmark = pytest.mark.slow

SITE = DEFAULT_SITES[0]
PRESSERO_PASSWORD = "pressero-Pw-42"
TH_PASSWORD = "th-pw-Zx81/"
WEBHOOK_SECRET = "th-hook-Secret-19"
TRACKING = "CN0099887766"


def _config(tmp_path: Path, th: TharsternSandbox, pressero: PresseroSandbox) -> str:
    return textwrap.dedent(
        f"""
        [listeners.webhook]
        address = "127.0.0.1"
        port = 0
        [daemon]
        state_dir = "{tmp_path}"
        socket = "{tmp_path}/esd.sock"
        log_level = "debug"
        drain_seconds = 5
        [retry]
        initial_seconds = 1
        max_seconds = 2
        give_up_after_seconds = 600
        jitter = 0
        [accounts.th]
        provider = "tharstern"
        concurrency = 2
        rate_per_second = 1000.0
        status_poll_seconds = 10
        [accounts.th.credentials]
        url = "{th.url}"
        login = "esd@shop.example"
        password = "{TH_PASSWORD}"
        webhook_secret = "{WEBHOOK_SECRET}"
        [accounts.th.settings]
        products_customer_code = "ESP001"
        [[accounts.th.settings.products]]
        product = "Flyers"
        product_type = 12
        [accounts.th.storefront_stages]
        Despatched = "Shipping"
        [sites.shop]
        name = "Print Shop"
        storefront = "pressero-main"
        site_id = "{SITE.site_id}"
        security_key = "{SITE.security_key}"
        [[sites.shop.activations]]
        account = "th"
        enable = true
        is_live = true
        [storefronts.pressero-main]
        provider = "pressero"
        url = "{pressero.url}"
        poll_seconds = 300
        poll_window_seconds = 3600
        [storefronts.pressero-main.credentials]
        username = "{pressero.username}"
        password = "{PRESSERO_PASSWORD}"
        subscriber_id = "{pressero.subscriber_id}"
        """
    )


def _events(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT dedupe_key FROM events WHERE kind = 'mis.webhook' ORDER BY id"
        ).fetchall()
    return [str(r[0]) for r in rows]


def _poll_timer(db: Path, account: str) -> bool:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT 1 FROM timers WHERE kind = 'status_poll' AND subject = ?", (account,)
        ).fetchone()
    return row is not None


def _item(db: Path, order: int) -> tuple[str, str | None, str]:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT state, mis_status, tracking FROM items WHERE order_number = ? AND seq = 1",
            (str(order),),
        ).fetchone()
    return (str(row[0]), row[1], str(row[2])) if row else ("", None, "")


def _reasons(db: Path, order: int) -> str:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT reasons FROM items WHERE order_number = ? AND seq = 1", (str(order),)
        ).fetchone()
    return str(row[0]) if row else ""


def test_tharstern_webhooks_bring_job_status_and_tracking_back_once(tmp_path: Path) -> None:
    pressero = PresseroSandbox(password=PRESSERO_PASSWORD)
    th = TharsternSandbox(login="esd@shop.example", password=TH_PASSWORD)
    pressero.start()
    th.start()
    config = tmp_path / "esd.toml"
    config.write_text(_config(tmp_path, th, pressero))
    daemon = DaemonProcess(config, tmp_path)
    sock = tmp_path / "esd.sock"
    db = tmp_path / "esd.sqlite3"
    try:
        daemon.start()
        port = daemon.call(sock, "status")["webhooks"]["port"]
        base = f"http://127.0.0.1:{port}"
        pressero.webhook_target = f"{base}/webhooks/pressero/shop"
        th.set_webhook(f"{base}/webhooks/mis/th", WEBHOOK_SECRET)

        # An eDocBuilder item: held until its production file exists (seed 000 asks whether
        # artwork is sent to Tharstern), then pushed with the file attached to the job.
        order = pressero.place_order(
            items=({"ProductName": "Flyers", "Quantity": 250, pg.EDOC_SESSION_FIELD: "e-77"},)
        )
        wait_until(lambda: "eDocBuilder" in _reasons(db, order), 30, "held for its file")
        assert th.state()["jobs"] == []
        pressero.files_generated(order, 1)

        def storefront_item() -> dict[str, object]:
            found = next(o for o in pressero.state()["orders"] if o["OrderNumber"] == order)
            return dict(next(i for i in found["Items"] if i["OrderItemSeq"] == 1))

        job_no = str(wait_until(lambda: storefront_item()["MisId"], 30, "MisId written back"))
        state = th.state()
        (job,) = state["jobs"]
        assert str(job["JobNo"]) == job_no
        assert state["estimates"][0]["CustomerCode"] == "ESP001"
        files = storefront_item()[pg.ITEM_FILES_FIELD]
        assert isinstance(files, list) and len(files) == 1
        generated: dict[str, str] = files[0]
        (attachment,) = state["attachments"]
        assert attachment["Content_URL"] == generated[pg.ITEM_FILE_URL_FIELD]
        assert attachment["Filename"] == generated[pg.ITEM_FILE_NAME_FIELD]
        assert attachment["RecordNo"] == job_no

        # Lost, then a resend with a wrong secret (refused, nothing stored), then the real one.
        th.set_job_status(job_no, "In Production", lose_webhook=True)
        assert th.redeliver(secret="not-the-secret") == 401
        assert _events(db) == []
        assert th.redeliver() == 200
        assert _events(db) == ["WH1"], "stored before the 2xx"
        wait_until(lambda: _item(db, order)[1] == "In Production", 30, "status recorded")

        # A change whose webhook never comes: the poll fallback (its timer is set in webhook
        # mode too; `sync` runs it now) reads the job and catches it.
        assert _poll_timer(db, "th"), "the poll fallback is scheduled"
        th.set_job_status(job_no, "Proofing", lose_webhook=True)
        daemon.call(sock, "sync", {"wait": True})
        wait_until(lambda: _item(db, order)[1] == "Proofing", 30, "the lost change polled")
        assert _events(db) == ["WH1"]

        # Despatched with a consignment number, then the same delivery again: stored once.
        th.add_delivery(job_no, TRACKING)
        assert th.redeliver() == 200
        assert _events(db) == ["WH1", "WH3"]
        wait_until(lambda: _item(db, order)[1] == "Despatched", 30, "despatch recorded")
        assert TRACKING in _item(db, order)[2]
        wait_until(lambda: storefront_item()["WorkflowStagePrinter"] == "Shipping", 30, "stage")
        wait_until(lambda: pressero.state()["shipments"], 30, "the shipment written back")

        # A body with the right secret that names no job: kept (2xx, stored once, poisoned
        # with the parser's reason and its body), never refused nor lost; the secret never
        # echoed.
        unreadable = b'{"EventId": "X1", "Status": "Printing"}'
        for _ in range(2):
            answer = httpx.post(
                f"{base}/webhooks/mis/th",
                content=unreadable,
                headers={g.WEBHOOK_SECRET_HEADER: WEBHOOK_SECRET},
            )
            assert answer.status_code == 200 and WEBHOOK_SECRET not in answer.text
        assert len(_events(db)) == 3
        poisoned = wait_until(
            lambda: daemon.call(sock, "events", {"status": "poisoned"})["events"], 30, "kept"
        )
        assert [e["kind"] for e in poisoned] == ["mis.webhook"]
        shown = daemon.call(sock, "event", {"id": poisoned[0]["id"]})
        assert shown["payload"]["body"] == unreadable.decode()
        assert "could not read" in shown["error"] and "job" in shown["error"].lower()
        status = daemon.call(sock, "status")
        assert status["webhooks"]["rejections"] == {"bad_secret": 1}
        detail = daemon.call(sock, "order", {"order": str(order)})
        assert detail["items"][0]["mis_status"] == "Despatched"
        # after the resends, the poll and a sync: the file is still attached once
        assert [a["Content_URL"] for a in th.state()["attachments"]] == [
            generated[pg.ITEM_FILE_URL_FIELD]
        ]
        assert detail["items"][0]["tracking"] == [TRACKING]
        assert daemon.terminate() == 0
    finally:
        daemon.close()
        th.stop()
        pressero.stop()
    assert TH_PASSWORD not in daemon.log_text() and WEBHOOK_SECRET not in daemon.log_text()
