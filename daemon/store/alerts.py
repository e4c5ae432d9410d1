"""Alerts for the operator, and the e-mail outbox they form (daemon.alerts.mailer sends it).

mail_status: 'none' (no recipients or no SMTP configured), 'pending' (to send at
mail_next_at), 'sent', 'failed' (gave up after the retry policy's deadline).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Sequence

from daemon.store.database import Txn

__all__ = [
    "Alert",
    "NewAlert",
    "alert_mail_counts",
    "due_alert_mails",
    "insert_alert",
    "latest_alert",
    "mark_alert_mail_failed",
    "mark_alert_mailed",
    "next_alert_mail_at",
]


@dataclasses.dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert about to be stored (the defaults are the table's)."""

    account: str
    subject: str
    message: str
    created_at: float
    event_id: int | None = None
    recipients: tuple[str, ...] = ()
    mail_status: str = "none"
    mail_attempts: int = 0
    mail_next_at: float | None = None
    mail_error: str | None = None
    mailed_at: float | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Alert:
    """One stored alert."""

    id: int
    account: str
    subject: str
    message: str
    event_id: int | None
    created_at: float
    recipients: tuple[str, ...]
    mail_status: str
    mail_attempts: int
    mail_next_at: float | None
    mail_error: str | None
    mailed_at: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Alert:
        data = dict(row)
        data["recipients"] = tuple(json.loads(data["recipients"]))
        return cls(**data)


async def insert_alert(txn: Txn, alert: NewAlert) -> int:
    """Store one alert; return its id."""
    return await txn.execute(
        "INSERT INTO alerts (account, subject, message, event_id, created_at, recipients,"
        " mail_status, mail_attempts, mail_next_at, mail_error, mailed_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            alert.account,
            alert.subject,
            alert.message,
            alert.event_id,
            alert.created_at,
            json.dumps(list(alert.recipients)),
            alert.mail_status,
            alert.mail_attempts,
            alert.mail_next_at,
            alert.mail_error,
            alert.mailed_at,
        ),
    )


async def latest_alert(txn: Txn, account: str, subjects: Sequence[str]) -> Alert | None:
    """The newest alert of `account` with one of these subjects, or None."""
    if not subjects:
        return None
    row = await txn.fetchone(
        f"SELECT * FROM alerts WHERE account = ? AND subject IN ({','.join('?' * len(subjects))})"
        " ORDER BY id DESC LIMIT 1",
        (account, *subjects),
    )
    return None if row is None else Alert.from_row(row)


async def due_alert_mails(txn: Txn, now: float, limit: int = 50) -> list[Alert]:
    """The alerts whose e-mail is due by `now`, oldest first."""
    rows = await txn.fetchall(
        "SELECT * FROM alerts WHERE mail_status = 'pending' AND mail_next_at <= ?"
        " ORDER BY id LIMIT ?",
        (now, limit),
    )
    return [Alert.from_row(r) for r in rows]


async def next_alert_mail_at(txn: Txn) -> float | None:
    """When the next pending e-mail is due; None when none is pending."""
    upcoming = await txn.scalar(
        "SELECT MIN(mail_next_at) FROM alerts WHERE mail_status = 'pending'"
    )
    return None if upcoming is None else float(upcoming)


async def mark_alert_mailed(txn: Txn, alert_id: int, mailed_at: float) -> None:
    """The alert's e-mail went out at `mailed_at`."""
    await txn.execute(
        "UPDATE alerts SET mail_status = 'sent', mailed_at = ?, mail_error = NULL,"
        " mail_attempts = mail_attempts + 1 WHERE id = ?",
        (mailed_at, alert_id),
    )


async def mark_alert_mail_failed(
    txn: Txn, alert_id: int, *, give_up: bool, attempts: int, next_at: float | None, error: str
) -> None:
    """Sending the alert's e-mail failed: try again at `next_at`, or (`give_up`) never."""
    await txn.execute(
        "UPDATE alerts SET mail_status = ?, mail_attempts = ?, mail_next_at = ?,"
        " mail_error = ? WHERE id = ?",
        ("failed" if give_up else "pending", attempts, next_at, error, alert_id),
    )


async def alert_mail_counts(txn: Txn) -> dict[str, int]:
    """How many alerts are in each mail status (only the statuses that have any)."""
    rows = await txn.fetchall("SELECT mail_status, COUNT(*) AS n FROM alerts GROUP BY mail_status")
    return {str(r["mail_status"]): int(r["n"]) for r in rows}
