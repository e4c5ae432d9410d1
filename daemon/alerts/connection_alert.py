"""One alert when a connection (an MIS account, a storefront) goes down, one when it recovers.

The connections' state lives in memory (daemon.actors.connection_health); this task watches
it and writes the alerts into the durable outbox (the alerts table, e-mailed by
daemon.alerts.mailer), never one per failed call. The open episode is derived from the
outbox itself, so a restart does not alert again an episode already alerted: the latest
`connection down` / `connection recovered` row of a connection says whether a down alert is
open. A down episode that was alerted before a restart is closed by the first success after
it (one recovery alert), or stays open while the connection keeps failing (no second alert).
If the daemon stops between a connection going down and its alert being written, the next
start sees the same failures and alerts then.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import structlog

from daemon.actors.connection_health import ConnectionHealth
from daemon.alerts.mailer import AlertMailer
from daemon.clock import Clock, iso
from daemon.config import Config
from daemon.logs import REDACTOR
from daemon.reload import ConfigHolder
from daemon.store.alerts import NewAlert, insert_alert, latest_alert
from daemon.store.database import Database

__all__ = ["DOWN", "RECOVERED", "ConnectionAlerts"]

log = structlog.get_logger("esd.alerts")

#: the alerts rows' `subject` of the two alerts of an episode
DOWN = "connection down"
RECOVERED = "connection recovered"


class ConnectionAlerts:
    """Raises the down and recovery alerts of every connection's episodes."""

    def __init__(
        self,
        db: Database,
        config: Config | ConfigHolder,
        clock: Clock,
        connections: Sequence[ConnectionHealth],
        mailer: AlertMailer,
    ) -> None:
        self.db = db
        # recipients and thresholds as reloaded (SIGHUP), read at each alert
        self.holder = ConfigHolder.of(config)
        self.clock = clock
        self.connections = list(connections)
        self.mailer = mailer
        self._changed = anyio.Event()
        for connection in self.connections:
            connection.on_change = self._on_change

    def _on_change(self, connection: ConnectionHealth) -> None:
        log.info(
            "connection.state",
            connection=connection.label,
            state=connection.state,
            consecutive_failures=connection.consecutive_failures,
            error=connection.last_error if connection.state != "ok" else None,
        )
        self._changed.set()

    async def restore(self) -> None:
        """Read which connections have a down alert open (before the actors start)."""
        async with self.db.reading() as txn:
            for connection in self.connections:
                latest = await latest_alert(txn, connection.label, (DOWN, RECOVERED))
                if latest is not None and latest.subject == DOWN:
                    connection.alerted_down_at = latest.created_at

    async def run(self) -> None:
        """For the daemon's lifetime: after each change of state, raise what is due."""
        while True:
            self._changed = anyio.Event()
            for connection in self.connections:
                await self.check(connection)
            await self._changed.wait()

    async def check(self, connection: ConnectionHealth) -> None:
        if connection.state == "down" and connection.alerted_down_at is None:
            since = connection.failing_since
            message = (
                f"{connection.label} has been failing since {iso(since)} "
                f"({connection.consecutive_failures} calls in a row): {connection.last_error}. "
                "Work for it waits and is retried; esd sends one more e-mail when it recovers."
            )
            connection.alerted_down_at = self.clock.now()
            await self._raise(connection, DOWN, message)
        elif (
            connection.state == "ok"
            and connection.alerted_down_at is not None
            and connection.last_success_at is not None
        ):
            # An episode restored from the outbox has no failing_since: count from its alert.
            began = connection.failing_since or connection.alerted_down_at
            minutes = max(0.0, self.clock.now() - began) / 60
            message = (
                f"{connection.label} answers again: recovered after {minutes:.0f} min "
                f"(down alert at {iso(connection.alerted_down_at)})."
            )
            connection.alerted_down_at = None
            await self._raise(connection, RECOVERED, message)

    async def _raise(self, connection: ConnectionHealth, subject: str, message: str) -> None:
        config = self.holder.current
        alerts = config.alerts
        account = config.accounts.get(connection.name) if connection.kind == "mis" else None
        recipients = list(
            dict.fromkeys([*alerts.recipients, *(account.alert_emails if account else ())])
        )
        mail = bool(recipients) and alerts.smtp_host is not None
        now = self.clock.now()
        message = REDACTOR.redact(message)
        alert = NewAlert(
            account=connection.label,
            subject=subject,
            message=message,
            created_at=now,
            recipients=tuple(recipients),
            mail_status="pending" if mail else "none",
            mail_next_at=now if mail else None,
        )

        async def insert() -> None:
            async with self.db.transaction() as txn:
                await insert_alert(txn, alert)

        await self.db.health.retrying(insert, "alert.raised")
        log.warning(
            "alert.raised", account=connection.label, subject=subject, message=message, mail=mail
        )
        if mail:
            self.mailer.notify()
