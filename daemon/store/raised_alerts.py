"""The alerts the engine raises: one row each, which is also the e-mail's outbox entry."""

from __future__ import annotations

from collections.abc import Sequence

from daemon.store.database import Txn
from daemon.store.json_columns import to_column

__all__ = ["record_alert"]


async def record_alert(
    txn: Txn,
    *,
    account: str,
    subject: str,
    message: str,
    event_id: int,
    now: float,
    recipients: Sequence[str],
    mail: bool,
) -> None:
    """Store one alert; `mail`: its e-mail is pending for the mailer, due now."""
    await txn.execute(
        "INSERT INTO alerts (account, subject, message, event_id, created_at, recipients,"
        " mail_status, mail_next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            account,
            subject,
            message,
            event_id,
            now,
            to_column(list(recipients)),
            "pending" if mail else "none",
            now if mail else None,
        ),
    )
