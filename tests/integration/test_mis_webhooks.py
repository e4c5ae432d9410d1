"""MIS status by webhook, end to end over real sockets: an order flows from the Pressero sandbox
through a real daemon into the reference MIS sandbox, whose account is in webhook mode; the
MIS's signed status webhooks (one lost then resent, one redelivered, one forged) bring the
line's shipment back to the storefront once, and the daemon never polls that MIS for status."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from daemon.providers.reference.sandbox import ReferenceSandbox
from daemon.providers.reference.webhook import SIGNATURE_HEADER, sign
from daemon.storefronts.pressero.sandbox import DEFAULT_SITES, PresseroSandbox
from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import config_text
from tests.pressero_helpers import pressero_site_keys, pressero_storefront_toml

pytestmark = pytest.mark.slow

SITE = DEFAULT_SITES[0]
PRESSERO_PASSWORD = "pressero-Pw-42"
MIS_PASSWORD = "mis-pw-1"
WEBHOOK_SECRET = "hook-Secret-77"
TRACKING = "1Z999AA10123456784"


def webhook_config(tmp_path: Path, mis_url: str, pressero: PresseroSandbox) -> str:
    text = config_text(
        tmp_path,
        # The shortest poll interval: were the poll scheduled, its timer would be there.
        accounts={"mis": {"url": mis_url, "password": MIS_PASSWORD, "poll": 10}},
        account_extra='[accounts.mis.storefront_stages]\nshipped = "Shipping"\n',
        retry="initial_seconds = 1\nmax_seconds = 2\ngive_up_after_seconds = 600\njitter = 0",
        site_extra=pressero_site_keys(SITE),
        extra=pressero_storefront_toml(pressero, PRESSERO_PASSWORD, poll_seconds=300),
    )
    text = text.replace('customer = "C100"\n', 'customer = "C100"\nstatus = "webhook"\n', 1)
    secret_line = f'password = "{MIS_PASSWORD}"\nwebhook_secret = "{WEBHOOK_SECRET}"\n'
    return text.replace(f'password = "{MIS_PASSWORD}"\n', secret_line, 1)


def mis_webhook_events(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT dedupe_key FROM events WHERE kind = 'mis.webhook' ORDER BY id"
        ).fetchall()
    return [str(r[0]) for r in rows]


def item_row(db: Path, order: int) -> tuple[str, str | None, str]:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT state, mis_status, tracking FROM items WHERE order_number = ? AND seq = 1",
            (str(order),),
        ).fetchone()
    return (str(row[0]), row[1], str(row[2])) if row else ("", None, "")


def test_signed_mis_webhooks_bring_status_back_once_without_polling(tmp_path: Path) -> None:
    pressero = PresseroSandbox(password=PRESSERO_PASSWORD)
    mis = ReferenceSandbox(login="esd", password=MIS_PASSWORD)
    pressero.start()
    mis.start()
    config = tmp_path / "esd.toml"
    config.write_text(webhook_config(tmp_path, mis.url, pressero))
    daemon = DaemonProcess(config, tmp_path)
    sock = tmp_path / "esd.sock"
    db = tmp_path / "esd.sqlite3"
    try:
        daemon.start()
        port = daemon.call(sock, "status")["webhooks"]["port"]
        base = f"http://127.0.0.1:{port}"
        pressero.webhook_target = f"{base}/webhooks/pressero/shop"
        mis.set_webhook(f"{base}/webhooks/mis/mis", WEBHOOK_SECRET)

        order = pressero.place_order(items=({"ProductName": "Flyers", "Quantity": 250},))

        def storefront_item() -> dict[str, object]:
            found = next(o for o in pressero.state()["orders"] if o["OrderNumber"] == order)
            return dict(next(i for i in found["Items"] if i["OrderItemSeq"] == 1))

        line_id = wait_until(lambda: storefront_item()["MisId"], 30, "MisId written back")
        job = next(j for j in mis.state()["jobs"] if j["reference"].endswith(f":{order}"))
        assert job["lines"][0]["line_id"] == line_id
        status_calls = mis.state()["calls"].get("get_job", 0)

        # A change whose delivery is lost, a forged resend (refused, nothing stored), then
        # the real resend: stored, 2xx, and the item's status follows.
        mis.set_line_status(job["job_id"], str(line_id), "printing", lose_webhook=True)
        assert mis.redeliver(signature="sha256=" + "0" * 64) == 401
        assert mis_webhook_events(db) == []
        assert mis.redeliver() == 200
        assert mis_webhook_events(db) == ["D1"], "stored before the 2xx"
        wait_until(lambda: item_row(db, order)[1] == "printing", 30, "printing recorded")

        # Shipped, then the same delivery again: stored once, the shipment added once.
        mis.set_line_status(job["job_id"], str(line_id), "shipped", [TRACKING])
        assert mis.redeliver() == 200
        assert mis_webhook_events(db) == ["D1", "D2"]
        wait_until(lambda: item_row(db, order)[1] == "shipped", 30, "shipped recorded")
        assert TRACKING in item_row(db, order)[2]
        wait_until(lambda: storefront_item()["WorkflowStagePrinter"] == "Shipping", 30, "stage")
        wait_until(lambda: pressero.state()["shipments"], 30, "the shipment written back")

        # An unknown account, a signed body that is not JSON, a body over the limit.
        assert httpx.post(f"{base}/webhooks/mis/nope", content=b"{}").status_code == 404
        garbage = b"not json"
        answer = httpx.post(
            f"{base}/webhooks/mis/mis",
            content=garbage,
            headers={SIGNATURE_HEADER: sign(WEBHOOK_SECRET, garbage)},
        )
        assert answer.status_code == 400
        assert WEBHOOK_SECRET not in answer.text
        big = httpx.post(f"{base}/webhooks/mis/mis", content=b"x" * (1048576 + 1))
        assert big.status_code == 413

        status = daemon.call(sock, "status")
        assert status["webhooks"]["rejections"] == {
            "bad_signature": 1,
            "unknown_account": 1,
            "malformed": 1,
            "too_large": 1,
        }
        assert status["webhooks"]["duplicates"] >= 1
        detail = daemon.call(sock, "order", {"order": str(order)})
        assert detail["items"][0]["mis_status"] == "shipped"
        assert detail["items"][0]["tracking"] == [TRACKING]
        assert daemon.terminate() == 0
    finally:
        daemon.close()
        final = pressero.state()
        calls = mis.state()["calls"]
        pressero.stop()
        mis.stop()
    shipments = [s["ShipTracking"] for s in final["shipments"]]
    assert shipments == [TRACKING], "the shipment added once"
    assert storefront_item_of(final, order)["MisId"] == line_id, "MisId untouched"
    assert calls.get("get_job", 0) == status_calls, "no status poll in webhook mode"
    with sqlite3.connect(db) as conn:
        polls = conn.execute("SELECT COUNT(*) FROM timers WHERE kind = 'status_poll'").fetchone()
    assert polls[0] == 0
    assert mis.webhook_deliveries == [("D1", 0), ("D1", 401), ("D1", 200), ("D2", 200), ("D2", 200)]
    log = daemon.log_text()
    assert WEBHOOK_SECRET not in log
    assert MIS_PASSWORD not in log


def storefront_item_of(state: dict[str, object], order: int) -> dict[str, object]:
    orders = state["orders"]
    assert isinstance(orders, list)
    found = next(o for o in orders if o["OrderNumber"] == order)
    return dict(next(i for i in found["Items"] if i["OrderItemSeq"] == 1))
