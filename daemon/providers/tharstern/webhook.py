"""The judge of Tharstern's status / delivery webhooks on `/webhooks/mis/<account>`, without I/O.

Seed 002: "enabling webhooks + subscriptions so Tharstern job status and tracking numbers flow
back". How a subscription authenticates is not public (guesses): the shop points it at esd with
a custom header `guesses.WEBHOOK_SECRET_HEADER` holding the account's `webhook_secret`
credential, compared in constant time before the body is read. The body is read by the one
parser (`webhook_payload`, its field names in the account's `webhook_fields`); statuses are
named as the account's `status_names` says, as a poll's are.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from daemon.errors import ConfigError
from daemon.providers.contract import JudgedWebhook, LineStatus, WebhookRejection
from daemon.providers.tharstern import guesses as g
from daemon.providers.tharstern.settings import parse_settings
from daemon.providers.tharstern.webhook_payload import PayloadError, parse_body

__all__ = ["webhook_judge"]


def webhook_judge(
    settings: Mapping[str, Any],
    credentials: Mapping[str, str],
    method: str,
    headers: Mapping[str, str],
    body: bytes,
) -> JudgedWebhook | WebhookRejection:
    """Authenticate one delivery by its shared secret, then read its job / order statuses."""
    secret = credentials.get("webhook_secret")
    if not secret:
        return WebhookRejection(401, "no_webhook_secret", "the account has no webhook_secret")
    received = headers.get(g.WEBHOOK_SECRET_HEADER.lower())
    if not received:
        return WebhookRejection(401, "missing_secret", f"no {g.WEBHOOK_SECRET_HEADER} header")
    if not hmac.compare_digest(received.strip().encode(), secret.encode()):
        return WebhookRejection(
            401, "bad_secret", f"{g.WEBHOOK_SECRET_HEADER} is not the account's webhook_secret"
        )
    try:
        parsed = parse_settings(settings)
    except ConfigError as exc:  # the driver refuses such settings at start: not reached
        return WebhookRejection(500, "bad_settings", str(exc))
    try:
        delivery = parse_body(body, parsed.webhook_fields)
    except PayloadError as exc:
        # Authenticated, so it is Tharstern's: kept and shown rather than refused, so a
        # payload our field map does not know yet is not lost (issue 14).
        digest = hashlib.sha256(body).hexdigest()[:32]
        return JudgedWebhook(dedupe_key=f"unread:{digest}", reports=(), problem=f"webhook: {exc}")
    reports = tuple(
        LineStatus(
            line.external_id,
            parsed.status_names.get(line.status.strip().casefold(), line.status),
            line.tracking,
            line.shipped_at,
        )
        for line in delivery.lines
    )
    return JudgedWebhook(dedupe_key=delivery.dedupe_key, reports=reports)
