"""Alert e-mails over a real SMTP server on loopback (aiosmtpd): one per failure episode."""

from __future__ import annotations

import random
import socket
import uuid
from email import message_from_bytes
from pathlib import Path
from typing import Any

import anyio
from aiosmtpd.controller import Controller

from daemon.alerts.mailer import AlertMailer
from daemon.engine.engine import Engine
from daemon.statecharts import load_charts
from daemon.store import inbox
from daemon.store.database import Database
from tests.helpers import ManualClock, make_config, make_order

SMTP_PASSWORD = "smtp-Pass-5521"


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build(tmp_path: Path, port: int, account_emails: str = "csr@printshop.example") -> Any:
    from daemon.config import parse_config
    from tests.helpers import config_text

    text = config_text(
        tmp_path,
        retry="initial_seconds = 30\nmax_seconds = 60\ngive_up_after_seconds = 300\njitter = 0",
        extra=(
            f'\n[alerts]\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\ntls = "none"\n'
            'sender = "esd@printshop.example"\nrecipients = ["ops@printshop.example"]\n'
        ),
    )
    # alert_emails belongs inside [accounts.mis]: put it right after the provider line
    text = text.replace(
        'provider = "reference"\n',
        f'provider = "reference"\nalert_emails = "{account_emails}"\n',
        1,
    )
    return parse_config(text, environ={})


def event(kind: str, **payload: Any) -> inbox.NewEvent:
    return inbox.NewEvent(
        "actor:mis",
        uuid.uuid4().hex,
        kind,
        {"site": "shop", "order": "1001", "account": "mis", **payload},
        subject="shop/1001",
    )


def test_one_mail_per_episode_retried_while_the_server_is_down(tmp_path: Path) -> None:
    port = free_port()
    received = Inbox()

    async def main() -> None:
        clock = ManualClock()
        db = await Database.open(tmp_path / "esd.sqlite3")
        config = build(tmp_path, port)
        engine = Engine(db, load_charts(), config, clock, rng=random.Random(0))
        mailer = AlertMailer(db, config, clock)
        await engine.committer.store_many(
            [
                inbox.NewEvent(
                    "storefront:shop",
                    "o",
                    "order.snapshot",
                    {"order": make_order(items=1).to_json()},
                )
            ]
        )
        await engine.process_pending()
        # Three transient failures: retries, no mail.
        for _ in range(3):
            await engine.apply(event("push.claim"))
            await engine.apply(
                event("push.result", outcome="transient", seqs=[1], error="NetworkError: reset")
            )
            clock.advance(61)
            await engine.fire_due_timers()
        async with db.reading() as txn:
            assert await txn.scalar("SELECT COUNT(*) FROM alerts") == 0
        # Then a business error: one alert, one mail; the SMTP server is down at first.
        await engine.apply(event("push.claim"))
        await engine.apply(
            event(
                "push.result",
                outcome="permanent",
                seqs=[1],
                error=f"BusinessRuleError: customer not found (pw {SMTP_PASSWORD})",
            )
        )
        next_at = await mailer.send_due()
        async with db.reading() as txn:
            row = await txn.fetchone("SELECT * FROM alerts")
        assert row is not None and row["mail_status"] == "pending" and row["mail_attempts"] == 1
        assert next_at == row["mail_next_at"] == clock.now() + 30
        assert "ConnectionRefusedError" in row["mail_error"]
        controller = Controller(received, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            clock.advance(30)
            assert await mailer.send_due() is None
            assert await mailer.send_due() is None  # nothing sent twice
        finally:
            controller.stop()
        async with db.reading() as txn:
            row = await txn.fetchone("SELECT * FROM alerts")
        assert row is not None and row["mail_status"] == "sent"
        await db.close()

    # The test's config embeds the SMTP password nowhere; the mail body is still redacted.
    from daemon.logs import REDACTOR

    REDACTOR.update([SMTP_PASSWORD])
    anyio.run(main)
    assert len(received.messages) == 1
    recipients, message = received.messages[0]
    assert sorted(recipients) == ["csr@printshop.example", "ops@printshop.example"]
    assert message["Subject"] == "[esd] mis: shop/1001"
    body = message.get_payload()
    assert "customer not found" in body and "esd order 1001 --site shop" in body
    assert SMTP_PASSWORD not in body


def test_no_smtp_configured_means_alerts_are_stored_only(tmp_path: Path) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "esd.sqlite3")
        engine = Engine(
            db, load_charts(), make_config(tmp_path), ManualClock(), rng=random.Random(0)
        )
        await engine.committer.store_many(
            [
                inbox.NewEvent(
                    "storefront:shop",
                    "o",
                    "order.snapshot",
                    {"order": make_order(items=1).to_json()},
                )
            ]
        )
        await engine.process_pending()
        await engine.apply(event("push.claim"))
        await engine.apply(event("push.result", outcome="permanent", seqs=[1], error="no"))
        async with db.reading() as txn:
            row = await txn.fetchone("SELECT mail_status FROM alerts")
        assert row is not None and row[0] == "none"
        await db.close()

    anyio.run(main)
