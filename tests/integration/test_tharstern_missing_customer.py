"""Issue 14: "a missing customer is a business error naming the code and an alert (Tharstern
cannot create customers through its API)", through a real daemon: an order from the Pressero
sandbox for a customer code the Tharstern sandbox does not have fails its item, naming the
code, raises one alert naming it, and creates nothing in Tharstern."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from daemon.providers.tharstern.sandbox import TharsternSandbox
from daemon.storefronts.pressero.sandbox import PresseroSandbox
from tests.daemon_process import DaemonProcess, wait_until
from tests.integration.test_tharstern_webhooks import PRESSERO_PASSWORD, TH_PASSWORD, _config

pytestmark = pytest.mark.slow

GHOST = "GHOST9"


def _item(db: Path, order: int) -> tuple[str, str]:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT state, COALESCE(last_error, '') FROM items WHERE order_number = ? AND seq = 1",
            (str(order),),
        ).fetchone()
    return (str(row[0]), str(row[1])) if row else ("", "")


def _failed_error(db: Path, order: int) -> str | None:
    state, error = _item(db, order)
    return error if state == "failed" else None


def _alerts(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT account, message FROM alerts ORDER BY id").fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def test_a_missing_tharstern_customer_fails_the_item_naming_the_code_with_one_alert(
    tmp_path: Path,
) -> None:
    pressero = PresseroSandbox(password=PRESSERO_PASSWORD)
    th = TharsternSandbox(login="esd@shop.example", password=TH_PASSWORD)
    pressero.start()
    th.start()
    config = tmp_path / "esd.toml"
    text = _config(tmp_path, th, pressero)
    assert 'products_customer_code = "ESP001"' in text
    config.write_text(text.replace('"ESP001"', f'"{GHOST}"'))
    daemon = DaemonProcess(config, tmp_path)
    sock = tmp_path / "esd.sock"
    db = tmp_path / "esd.sqlite3"
    try:
        daemon.start()
        port = daemon.call(sock, "status")["webhooks"]["port"]
        pressero.webhook_target = f"http://127.0.0.1:{port}/webhooks/pressero/shop"
        order = pressero.place_order(items=({"ProductName": "Flyers", "Quantity": 250},))
        error = wait_until(lambda: _failed_error(db, order), 30, "the item failed")
        assert GHOST in error, error
        alerts = wait_until(lambda: _alerts(db), 30, "an alert")
        assert len(alerts) == 1 and alerts[0][0] == "th" and GHOST in alerts[0][1], alerts
        th_state = th.state()
        assert th_state["estimates"] == [] and th_state["jobs"] == [], th_state
        assert daemon.terminate() == 0
    finally:
        daemon.close()
        th.stop()
        pressero.stop()
    assert TH_PASSWORD not in daemon.log_text()
