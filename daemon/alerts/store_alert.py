"""One alert when the store cannot write (a full disk): e-mailed at once, recorded when it can.

The alert outbox is a table in the very store that cannot be written, so the alert cannot be
written in a transaction the way other alerts are (daemon.engine.alerts.raise_alert). What
we chose, and why:

- The alert is held in memory and e-mailed at once, straight from memory (SMTP needs no
  disk): the operator must hear about a full disk WHILE it is full, not after someone has
  freed space. A failed send is tried again (with the store's backoff) until it goes out or
  the store can write again.
- It is written to the alerts table as soon as the store can write, as `sent` if the e-mail
  went out (so the outbox never sends it twice) or `pending` (the durable outbox then sends
  it, retried as usual). That write is also the store's recovery probe: it is tried only
  when the filesystem has room again, and its commit is what tells every waiting writer
  (StoreHealth) that the store is back.
- One alert per episode (ok -> full/unavailable -> ok), never one per failed write. The
  price: if the daemon is killed while the disk is still full and the e-mail could not be
  sent, that alert is lost; the next start meets the same full disk and raises it again.
"""

from __future__ import annotations

import dataclasses

import anyio
import anyio.to_thread
import structlog

from daemon.alerts.mailer import AlertMailer, _send, compose
from daemon.clock import Clock, iso
from daemon.config import Config
from daemon.errors import StoreUnavailable
from daemon.logs import REDACTOR
from daemon.reload import ConfigHolder
from daemon.store.alerts import NewAlert, insert_alert
from daemon.store.database import Database

__all__ = ["StoreAlert"]

log = structlog.get_logger("esd.alerts")

#: the alerts row's `account` and `subject` for a store that cannot write
ACCOUNT = "daemon"
SUBJECT = "store"


class StoreAlert:
    """Raises one alert per episode of the store being unable to write."""

    def __init__(
        self, db: Database, config: Config | ConfigHolder, clock: Clock, mailer: AlertMailer
    ) -> None:
        self.db = db
        self.holder = ConfigHolder.of(config)
        self.clock = clock
        self.mailer = mailer
        #: alerts raised (and recorded) since the start
        self.raised = 0

    @property
    def config(self) -> Config:
        """The config in force (a reload may change [alerts] and [retry])."""
        return self.holder.current

    async def run(self) -> None:
        """For the daemon's lifetime: wait for an episode, alert it, wait for the next."""
        while True:
            await self.db.health.wait_unhealthy()
            await self.alert_episode()

    async def alert_episode(self) -> None:
        """E-mail the alert now, then record it once the store can write."""
        health = self.db.health
        alert = NewAlert(
            account=ACCOUNT,
            subject=SUBJECT,
            message=REDACTOR.redact(
                f"the store {self.db.path} cannot write ({health.state} since "
                f"{iso(health.since)}): {health.last_error}. Webhooks are answered 503 and "
                "work waits until it can; esd resumes by itself once there is room."
            ),
            created_at=self.clock.now(),
        )
        alerts = self.config.alerts
        recipients = list(alerts.recipients)
        mail = bool(recipients) and alerts.smtp_host is not None
        log.warning("alert.raised", account=ACCOUNT, subject=SUBJECT, message=alert.message)
        mailed_at: float | None = None
        attempts = 0
        error: str | None = None
        while mail and mailed_at is None and not health.ok:
            attempts += 1
            try:
                message = compose(alerts, alert, recipients)
                await anyio.to_thread.run_sync(_send, alerts, message, abandon_on_cancel=True)
            except Exception as exc:  # OSError, SMTPException: the outbox tries again later
                error = REDACTOR.redact(f"{type(exc).__name__}: {exc}")
                log.warning("alert.mail_failed", subject=SUBJECT, attempts=attempts, error=error)
                await health.pause()
            else:
                mailed_at = self.clock.now()
                log.info("alert.mailed", account=ACCOUNT, subject=SUBJECT, to=recipients)
        status = "none" if not mail else "sent" if mailed_at is not None else "pending"
        alert = dataclasses.replace(
            alert,
            recipients=tuple(recipients),
            mail_status=status,
            mail_attempts=attempts,
            mail_next_at=self.clock.now() if status == "pending" else None,
            mail_error=error if status == "pending" else None,
            mailed_at=mailed_at,
        )
        while True:
            if health.state == "full" and health.free_bytes() < health.min_free_bytes:
                await health.pause()  # no room yet: writing would only fail again
                continue
            try:
                async with self.db.transaction() as txn:
                    await insert_alert(txn, alert)
            except StoreUnavailable:
                await health.pause()
                continue
            break
        self.raised += 1
        log.info("alert.recorded", account=ACCOUNT, subject=SUBJECT, mail_status=status)
        if status == "pending":
            self.mailer.notify()
        # The episode is over only when the store is ok again (the insert may have fitted in
        # space SQLite already had): no second alert for the same episode.
        while not health.ok:
            await health.pause()
