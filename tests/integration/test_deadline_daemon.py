"""The real daemon against a dripping Pace: the call deadline frees the push, the drain's limit
holds whatever a call is doing, and a SIGTERM at any moment after READY=1 is graceful."""

from __future__ import annotations

import signal
import sqlite3
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from daemon.orders.model import Address, Order, OrderItem, Payment, SiteUser
from daemon.providers.pace.sandbox import PaceSandbox
from daemon.providers.reference.sandbox import ReferenceSandbox
from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import config_text as reference_config
from tests.helpers import daemon_tables_toml
from tests.pace_helpers import pace_account_toml

pytestmark = pytest.mark.slow

SECRET = "deadline-daemon-pw-3Rk"
BUYER = Address(
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


def order(number: str) -> Order:
    return Order(
        site="shop",
        order_number=number,
        site_name="Print Shop",
        payment=Payment.PAID,
        user=SiteUser(email=BUYER.email, first_name="Alice", last_name="Archer", address=BUYER),
        items=(
            OrderItem(
                seq=1, product_name="Flyers", quantity=250, price=Decimal("49"), ship_to=BUYER
            ),
        ),
    )


def pace_config(tmp_path: Path, url: str, *, deadline: float, drain: float) -> Path:
    account = pace_account_toml(
        url, SECRET, concurrency=4, rate_per_second=1000.0, create_customer=True
    )
    account = account.replace(
        'timezone = "UTC"\n', f'timezone = "UTC"\ncall_deadline_seconds = {deadline}\n'
    )
    text = (
        daemon_tables_toml(tmp_path, drain_seconds=drain)
        + textwrap.dedent(
            """
        [retry]
        initial_seconds = 3600
        max_seconds = 3600
        give_up_after_seconds = 86400
        jitter = 0.0
        """
        )
        + account
    )
    path = tmp_path / "esd.toml"
    path.write_text(text)
    return path


def submit(daemon: DaemonProcess, sock: Path, number: str) -> None:
    daemon.submit_order(sock, order(number))


def item_states(database: Path) -> dict[str, str]:
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute("SELECT order_number, state FROM items").fetchall()
    finally:
        db.close()
    return {str(number): str(state) for number, state in rows}


def last_errors(database: Path) -> list[str]:
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute("SELECT last_error FROM items WHERE last_error IS NOT NULL").fetchall()
    finally:
        db.close()
    return [str(error) for (error,) in rows]


def test_a_dripped_wsdl_sends_every_push_of_the_account_to_retrying(tmp_path: Path) -> None:
    with PaceSandbox("esd", SECRET) as sandbox:
        sandbox.set_faults(fail_next=[{"operation": "wsdl", "kind": "drip"}], drip_interval_ms=200)
        config = pace_config(tmp_path, sandbox.url, deadline=2, drain=5)
        daemon = DaemonProcess(config, tmp_path)
        sock = tmp_path / "esd.sock"
        try:
            daemon.start()
            for number in ("7001", "7002", "7003"):
                submit(daemon, sock, number)
            # Generous: only a push stuck in the drip (for ever, before the fix) fails this.
            wait_until(
                lambda: (
                    len(item_states(tmp_path / "esd.sqlite3")) == 3
                    and "pushing" not in item_states(tmp_path / "esd.sqlite3").values()
                    and "ready" not in item_states(tmp_path / "esd.sqlite3").values()
                ),
                60,
                "every push out of pushing",
            )
            states = item_states(tmp_path / "esd.sqlite3")
            assert "retrying" in states.values(), states  # the dripped one: transient
            assert set(states.values()) <= {"retrying", "pushed"}, states
            errors = last_errors(tmp_path / "esd.sqlite3")
            assert any("CallDeadlineExceeded" in e and "call deadline" in e for e in errors), errors
            assert daemon.terminate() == 0
        finally:
            daemon.close()
        (report,) = sandbox.streamed()
        assert report.kind == "drip" and report.closed_early


def test_sigterm_during_a_dripped_call_exits_0_after_the_drain(tmp_path: Path) -> None:
    with PaceSandbox("esd", SECRET) as sandbox:
        sandbox.set_faults(fail_next=[{"operation": "wsdl", "kind": "drip"}], drip_interval_ms=2000)
        # The deadline is far away: only the drain's limit can end the call.
        config = pace_config(tmp_path, sandbox.url, deadline=3600, drain=1)
        daemon = DaemonProcess(config, tmp_path)
        sock = tmp_path / "esd.sock"
        try:
            daemon.start()
            submit(daemon, sock, "7101")
            wait_until(
                lambda: item_states(tmp_path / "esd.sqlite3").get("7101") == "pushing",
                30,
                "the push in flight",
            )
            wait_until(lambda: sandbox.state()["wsdl_fetches"], 30, "the WSDL being dripped")
            assert daemon.terminate(timeout=60) == 0
        finally:
            daemon.close()
        assert "daemon.drain_timeout" in daemon.log_text()
        assert not sock.exists(), "socket removed on exit"
        # Left in pushing: the next start reconciles it (README "Nothing is pushed twice").
        assert item_states(tmp_path / "esd.sqlite3") == {"7101": "pushing"}


def test_sigterm_right_after_ready_is_always_graceful(tmp_path: Path) -> None:
    with ReferenceSandbox(login="esd", password=SECRET) as sandbox:
        config = tmp_path / "esd.toml"
        config.write_text(
            reference_config(tmp_path, accounts={"mis": {"url": sandbox.url, "password": SECRET}})
        )
        daemon = DaemonProcess(config, tmp_path)
        try:
            for run in range(20):
                daemon.start()
                assert daemon.proc is not None
                daemon.proc.send_signal(signal.SIGTERM)  # at once, upon READY=1
                code = daemon.proc.wait(60)
                assert code == 0, f"run {run}: exit {code}\n{daemon.log_text()[-2000:]}"
                daemon.wait_message("STOPPING=1", 10)  # sent before it exited: still queued
                assert not (tmp_path / "esd.sock").exists(), f"run {run}: socket left"
        finally:
            daemon.close()
