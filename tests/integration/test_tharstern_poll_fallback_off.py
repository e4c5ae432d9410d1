"""Issue 14: "Poll fallback ... on a schedule, for lost webhooks and for shops that do not
enable subscriptions"; the closing note: "`poll_fallback = false` turns it off". Through a
real daemon: with webhooks on and the fallback off, no status poll is scheduled for the
account, and status still comes back by webhook. (The fallback on is proven in
test_tharstern_webhooks.py, by the same timer.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.providers.tharstern.sandbox import TharsternSandbox
from daemon.storefronts.pressero.sandbox import PresseroSandbox
from tests.daemon_process import DaemonProcess, wait_until
from tests.integration.test_tharstern_webhooks import (
    PRESSERO_PASSWORD,
    TH_PASSWORD,
    WEBHOOK_SECRET,
    _config,
    _item,
    _poll_timer,
)

pytestmark = pytest.mark.slow


def test_with_the_fallback_off_no_status_poll_is_scheduled_and_webhooks_still_work(
    tmp_path: Path,
) -> None:
    pressero = PresseroSandbox(password=PRESSERO_PASSWORD)
    th = TharsternSandbox(login="esd@shop.example", password=TH_PASSWORD)
    pressero.start()
    th.start()
    config = tmp_path / "esd.toml"
    text = _config(tmp_path, th, pressero)
    anchor = 'products_customer_code = "ESP001"\n'
    assert anchor in text
    config.write_text(text.replace(anchor, anchor + "poll_fallback = false\n"))
    daemon = DaemonProcess(config, tmp_path)
    sock = tmp_path / "esd.sock"
    db = tmp_path / "esd.sqlite3"
    try:
        daemon.start()
        port = daemon.call(sock, "status")["webhooks"]["port"]
        base = f"http://127.0.0.1:{port}"
        pressero.webhook_target = f"{base}/webhooks/pressero/shop"
        th.set_webhook(f"{base}/webhooks/mis/th", WEBHOOK_SECRET)
        order = pressero.place_order(items=({"ProductName": "Flyers", "Quantity": 250},))

        def mis_id() -> object:
            found = next(o for o in pressero.state()["orders"] if o["OrderNumber"] == order)
            return next(i for i in found["Items"] if i["OrderItemSeq"] == 1)["MisId"]

        job_no = str(wait_until(mis_id, 30, "MisId written back"))
        # the driver actor decided about the timer before it pushed
        assert not _poll_timer(db, "th"), "no poll fallback when poll_fallback = false"
        th.set_job_status(job_no, "In Production")
        wait_until(lambda: _item(db, order)[1] == "In Production", 30, "status by webhook")
        assert not _poll_timer(db, "th")
        assert daemon.terminate() == 0
    finally:
        daemon.close()
        th.stop()
        pressero.stop()
