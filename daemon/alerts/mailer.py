"""The alert e-mail outbox: stored alerts are sent over SMTP, with durable retries.

An alert row is written in the transaction of the event that raised it (daemon.engine.
alerts.raise_alert), so no alert is lost to a crash. This task sends the pending ones:
one e-mail per alert (one per failure episode, never one per retry of the failing push),
retried with the spine's retry policy when the mail server is unreachable, marked failed
(and logged) when the policy gives up. smtplib runs in a worker thread; the message body
is redacted like every other text esd writes.

While the store cannot write (a full disk) an e-mail already sent is not sent again: its
"sent" mark is held and written once the store can write (`StoreHealth.retrying`), and the
loop waits instead of crashing the daemon.
"""

from __future__ import annotations

import random
import smtplib
import ssl
import time
from email.message import EmailMessage

import anyio
import anyio.to_thread
import structlog

from daemon.clock import Clock, iso
from daemon.config import Alerts, Config
from daemon.engine import retry
from daemon.errors import StoreUnavailable
from daemon.logs import REDACTOR
from daemon.reload import ConfigHolder
from daemon.store.alerts import (
    Alert,
    NewAlert,
    due_alert_mails,
    mark_alert_mail_failed,
    mark_alert_mailed,
    next_alert_mail_at,
)
from daemon.store.database import Database

__all__ = ["AlertMailer", "compose"]

log = structlog.get_logger("esd.alerts")


def compose(alerts: Alerts, alert: Alert | NewAlert, recipients: list[str]) -> EmailMessage:
    """The e-mail for one alert (pure)."""
    message = EmailMessage()
    message["From"] = alerts.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = REDACTOR.redact(f"[esd] {alert.account}: {alert.subject}")
    order = alert.subject.split("/")
    hint = f"esd order {order[1]} --site {order[0]}" if len(order) == 2 else "esd status"
    # A recovery is news, not a call for a person (daemon.alerts.connection_alert).
    intro = (
        f"esd's connection {alert.account} works again; nothing needs doing."
        if alert.subject == "connection recovered"
        else f"esd could not complete work for {alert.account} and needs a person."
    )
    message.set_content(
        REDACTOR.redact(
            f"{intro}\n\n"
            f"What:  {alert.subject}\n"
            f"Why:   {alert.message}\n"
            f"When:  {iso(alert.created_at)}\n"
            f"Event: {alert.event_id}\n\n"
            f"See the full trace with `{hint}`; after fixing the cause, `esd push` resubmits\n"
            "an order and `esd replay` reprocesses a poisoned event.\n"
        )
    )
    return message


class AlertMailer:
    """Sends pending alert e-mails for the daemon's lifetime."""

    def __init__(self, db: Database, config: Config | ConfigHolder, clock: Clock) -> None:
        self.db = db
        self.holder = ConfigHolder.of(config)
        self.clock = clock
        self.rng = random.Random()
        self._wakeup = anyio.Event()
        self.sent = 0

    @property
    def config(self) -> Config:
        """The config in force (a reload may change [alerts] and [retry])."""
        return self.holder.current

    def notify(self) -> None:
        """A new alert may wait to be sent."""
        self._wakeup.set()

    async def run(self) -> None:
        while True:
            if self.config.alerts.smtp_host is None:
                # No SMTP (yet): a reload that configures it wakes us.
                await self._wakeup.wait()
                self._wakeup = anyio.Event()
                continue
            try:
                next_at = await self.send_due()
            except StoreUnavailable:
                await self.db.health.pause()
                continue
            delay = 3600.0 if next_at is None else max(0.0, next_at - self.clock.now())
            with anyio.move_on_after(min(delay, 3600.0)):
                await self._wakeup.wait()
            self._wakeup = anyio.Event()

    async def send_due(self) -> float | None:
        """Send every due alert; return when the next one is due (None: nothing pending)."""
        async with self.db.reading() as txn:
            due = await due_alert_mails(txn, self.clock.now(), limit=50)
        for alert in due:
            await self._send_one(alert)
        async with self.db.reading() as txn:
            return await next_alert_mail_at(txn)

    async def _send_one(self, alert: Alert) -> None:
        alerts = self.config.alerts
        recipients = list(alert.recipients)
        message = compose(alerts, alert, recipients)
        try:
            await anyio.to_thread.run_sync(_send, alerts, message, abandon_on_cancel=True)
        except (OSError, smtplib.SMTPException) as exc:
            await self._failed(alert, REDACTOR.redact(f"{type(exc).__name__}: {exc}"))
            return
        mailed_at = self.clock.now()

        async def mark_sent() -> None:
            async with self.db.transaction() as txn:
                await mark_alert_mailed(txn, alert.id, mailed_at)

        await self.db.health.retrying(mark_sent, "alert.mailed")  # sent once, marked once
        self.sent += 1
        log.info("alert.mailed", alert=alert.id, account=alert.account, to=recipients)

    async def _failed(self, alert: Alert, error: str) -> None:
        attempts = alert.mail_attempts + 1
        now = self.clock.now()
        decision = retry.decide(
            self.config.retry,
            attempts=attempts,
            first_failure_at=alert.created_at,
            now=now,
            retry_after=None,
            rng=self.rng,
        )

        async def mark_failed() -> None:
            async with self.db.transaction() as txn:
                await mark_alert_mail_failed(
                    txn,
                    alert.id,
                    give_up=decision.give_up,
                    attempts=attempts,
                    next_at=decision.due_at,
                    error=error,
                )

        await self.db.health.retrying(mark_failed, "alert.mail_failed")
        log.warning(
            "alert.mail_failed",
            alert=alert.id,
            attempts=attempts,
            error=error,
            next=decision.reason,
        )


def _send(alerts: Alerts, message: EmailMessage) -> None:
    """One SMTP conversation (runs in a worker thread)."""
    assert alerts.smtp_host is not None
    started = time.monotonic()
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if alerts.tls == "tls":
        smtp = smtplib.SMTP_SSL(
            alerts.smtp_host, alerts.smtp_port, timeout=alerts.timeout_seconds, context=context
        )
    else:
        smtp = smtplib.SMTP(alerts.smtp_host, alerts.smtp_port, timeout=alerts.timeout_seconds)
    with smtp:
        if alerts.tls == "starttls":
            smtp.starttls(context=context)
        if alerts.username is not None and alerts.password is not None:
            smtp.login(alerts.username, alerts.password)
        smtp.send_message(message)
    log.debug("alert.smtp", seconds=round(time.monotonic() - started, 3))
