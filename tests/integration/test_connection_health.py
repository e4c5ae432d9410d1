"""Connection health over real sockets: the real daemon, the Pace and Pressero sandboxes and a
real SMTP sink. With both remote systems failing, only the periodic polls (no order pushed)
take each connection degraded then down: `esd status` shows it, `/readyz` answers 503 naming
them, one alert per connection; after recovery: ok, `/readyz` 200, one recovery alert each."""

from __future__ import annotations

import json
import sqlite3
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from daemon.providers.pace.sandbox import PaceSandbox
from daemon.storefronts.pressero.sandbox import DEFAULT_SITES, PresseroSandbox
from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import daemon_tables_toml
from tests.integration.test_alert_mail import Inbox, free_port
from tests.pace_helpers import pace_account_toml
from tests.pressero_helpers import pressero_site_keys, pressero_storefront_toml

pytestmark = pytest.mark.slow

SITE = DEFAULT_SITES[0]
PACE_PASSWORD = "pace-Health-Pw-81"
PRESSERO_PASSWORD = "pressero-Health-Pw-82"


def write_config(tmp_path: Path, pace: PaceSandbox, pressero: PresseroSandbox, smtp: int) -> Path:
    account = pace_account_toml(
        pace.url,
        PACE_PASSWORD,
        concurrency=2,
        rate_per_second=1000.0,
        create_customer=True,
        site_extra=pressero_site_keys(SITE),
    ).replace("status_poll_seconds = 300", "status_poll_seconds = 10")
    text = (
        daemon_tables_toml(tmp_path, drain_seconds=2)
        + textwrap.dedent(
            f"""
            [alerts]
            smtp_host = "127.0.0.1"
            smtp_port = {smtp}
            tls = "none"
            sender = "esd@printshop.example"
            recipients = ["ops@printshop.example"]
            down_after_seconds = 1
            down_after_failures = 2
            """
        )
        + pressero_storefront_toml(pressero, PRESSERO_PASSWORD, poll_seconds=1)
        + account
    )
    path = tmp_path / "esd.toml"
    path.write_text(text)
    return path


def readyz(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def alert_rows(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute("SELECT account, subject FROM alerts ORDER BY id").fetchall()
    return [(str(a), str(s)) for a, s in rows]


def test_unreachable_systems_go_down_alert_once_and_recover(tmp_path: Path) -> None:
    received = Inbox()
    smtp_port = free_port()
    smtp = Controller(received, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    pressero = PresseroSandbox(password=PRESSERO_PASSWORD)
    pressero.start()
    pace = PaceSandbox("esd", PACE_PASSWORD)
    pace.start()
    daemon = DaemonProcess(write_config(tmp_path, pace, pressero, smtp_port), tmp_path)
    sock = tmp_path / "esd.sock"
    db = tmp_path / "esd.sqlite3"
    sf, mis = "storefront:pressero-main", "pace"

    def connections() -> dict[str, Any]:
        return dict(daemon.call(sock, "status")["connections"])

    try:
        daemon.start()
        port = daemon.call(sock, "status")["webhooks"]["port"]
        wait_until(lambda: connections()[sf]["last_success_at"], 30, "a storefront poll")
        assert readyz(port)[0] == 200
        pressero.set_faults(error_rate=1.0)
        pace.set_faults(error_rate=1.0)

        # Degraded first (one failure), then down: seen through `esd status`.
        seen: dict[str, set[str]] = {sf: set(), mis: set()}

        def both_down() -> bool:
            now = connections()
            for name in seen:
                seen[name].add(now[name]["state"])
            return all(now[n]["state"] == "down" for n in seen)

        wait_until(both_down, 60, "both connections down")
        assert seen[sf] >= {"degraded", "down"} and seen[mis] >= {"degraded", "down"}, seen
        now = connections()
        for name in (sf, mis):
            assert now[name]["consecutive_failures"] >= 2
            assert "503" in now[name]["last_error"] or "Server" in now[name]["last_error"], now
            assert now[name]["last_error_at"] is not None
        text = daemon.call(sock, "status")
        assert text["connections"][mis]["kind"] == "mis"

        status, body = readyz(port)
        assert status == 503 and body["failing"] == ["connections"], body
        assert sorted(body["checks"]["connections"]["down"]) == sorted([sf, mis])

        # The storefront keeps failing (a poll a second): still one alert per connection.
        wait_until(lambda: connections()[sf]["consecutive_failures"] >= 5, 30, "more failures")
        wait_until(lambda: len(received.messages) >= 2, 30, "the two down e-mails")
        downs = [r for r in alert_rows(db) if r[1] == "connection down"]
        assert sorted(downs) == sorted([(sf, "connection down"), (mis, "connection down")])

        # Recovery: the storefront's next poll, Pace through `esd test-connection`.
        pressero.set_faults(error_rate=0.0)
        pace.set_faults(error_rate=0.0)
        report = daemon.call(sock, "test-connection", {})
        assert report["accounts"][mis]["ok"] is True
        wait_until(
            lambda: all(c["state"] == "ok" for c in connections().values()), 30, "both ok again"
        )
        assert connections()[mis]["consecutive_failures"] == 0
        wait_until(lambda: readyz(port)[0] == 200, 30, "/readyz 200 again")
        wait_until(lambda: len(received.messages) >= 4, 30, "the two recovery e-mails")
        subjects = sorted(str(m["Subject"]) for _, m in received.messages)
        assert subjects == sorted(
            [
                f"[esd] {sf}: connection down",
                f"[esd] {sf}: connection recovered",
                f"[esd] {mis}: connection down",
                f"[esd] {mis}: connection recovered",
            ]
        )
        recovered = [m for _, m in received.messages if "recovered" in str(m["Subject"])]
        assert all("recovered after" in m.get_payload() for m in recovered)
        assert daemon.terminate() == 0

        # A restart does not alert the closed episodes again.
        daemon.start()
        wait_until(lambda: connections()[sf]["last_success_at"], 30, "a poll after the restart")
        assert len(alert_rows(db)) == 4
        assert daemon.terminate() == 0
    finally:
        daemon.close()
        pressero.stop()
        pace.stop()
        smtp.stop()
    log = daemon.log_text()
    assert PACE_PASSWORD not in log and PRESSERO_PASSWORD not in log
    for _, message in received.messages:
        assert PACE_PASSWORD not in message.get_payload()
