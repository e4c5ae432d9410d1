"""Alerts the engine raises: one per failure episode, stored with its e-mail's outbox row."""

from __future__ import annotations

import structlog

from daemon.engine.context import Context
from daemon.engine.effects import SendMail
from daemon.store.alerts import NewAlert, insert_alert

__all__ = ["raise_alert"]

log = structlog.get_logger("esd.engine")


async def raise_alert(ctx: Context, account: str, subject: str, message: str) -> None:
    """One alert per failure episode (give-up or permanent failure), never one per retry.

    The alert is also an e-mail outbox row: to the [alerts] recipients and the account's
    alert_emails, sent by daemon.alerts.mailer when SMTP is configured.
    """
    configured = ctx.config.accounts.get(account)
    recipients = list(
        dict.fromkeys(
            [*ctx.config.alerts.recipients, *(configured.alert_emails if configured else ())]
        )
    )
    mail = bool(recipients) and ctx.config.alerts.smtp_host is not None
    await insert_alert(
        ctx.txn,
        NewAlert(
            account=account,
            subject=subject,
            message=message,
            created_at=ctx.now,
            event_id=ctx.event.id,
            recipients=tuple(recipients),
            mail_status="pending" if mail else "none",
            mail_next_at=ctx.now if mail else None,  # the mailer sends it now
        ),
    )
    if mail:
        ctx.effects.add(SendMail())
    log.warning("alert.raised", account=account, subject=subject, message=message, mail=mail)
