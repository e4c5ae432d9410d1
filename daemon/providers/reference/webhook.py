"""The reference MIS's status webhook, its own small protocol, judged without I/O.

With `status = "webhook"` in an account's settings the MIS pushes status instead of being
polled. It POSTs to `/webhooks/mis/<account>` a JSON body

    {"delivery_id": "D1", "job_id": "J1001",
     "lines": [{"line_id": "J1001-01", "status": "shipped", "tracking": ["1Z..."],
                "shipped_at": "2024-05-01T10:00:00+00:00"}]}

signed with the account's `webhook_secret` credential: the header
`X-Esd-Signature: sha256=<hex HMAC-SHA256 of the raw body bytes>`. The signature is checked
over the raw bytes before anything is parsed, so an unsigned or forged body is refused (401)
unread. `delivery_id` is the same on every redelivery of one change, so it is the dedupe key:
a redelivery is acknowledged and ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from daemon.providers.contract import JudgedWebhook, LineStatus, WebhookRejection
from daemon.providers.reference.mapping import WireFormatError, parse_webhook_line

__all__ = ["SIGNATURE_HEADER", "SIGNATURE_PREFIX", "sign", "webhook_judge"]

#: the header that carries the body's signature (looked up lower-cased)
SIGNATURE_HEADER = "X-Esd-Signature"
SIGNATURE_PREFIX = "sha256="

_MAX_DELIVERY_ID = 200


def sign(secret: str, body: bytes) -> str:
    """The `X-Esd-Signature` value of `body` (what the MIS sends; the sandbox uses it)."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def webhook_judge(
    settings: Mapping[str, Any],
    credentials: Mapping[str, str],
    method: str,
    headers: Mapping[str, str],
    body: bytes,
) -> JudgedWebhook | WebhookRejection:
    """Judge one delivery: authenticate it, then read its line statuses."""
    secret = credentials.get("webhook_secret")
    if not secret:
        return WebhookRejection(401, "no_webhook_secret", "the account has no webhook_secret")
    received = headers.get(SIGNATURE_HEADER.lower())
    if not received:
        return WebhookRejection(401, "missing_signature", f"no {SIGNATURE_HEADER} header")
    if not hmac.compare_digest(received.strip().encode(), sign(secret, body).encode()):
        return WebhookRejection(401, "bad_signature", f"{SIGNATURE_HEADER} does not match the body")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return WebhookRejection(400, "malformed", f"webhook: body is not JSON: {exc}")
    try:
        return _judged(data)
    except WireFormatError as exc:
        return WebhookRejection(400, "malformed", str(exc))


def _judged(data: object) -> JudgedWebhook:
    if not isinstance(data, Mapping):
        raise WireFormatError(f"webhook: expected an object, got {type(data).__name__}")
    delivery = data.get("delivery_id")
    if not isinstance(delivery, str) or not delivery.strip():
        raise WireFormatError("webhook.delivery_id: expected a non-empty string")
    if len(delivery) > _MAX_DELIVERY_ID:
        raise WireFormatError(f"webhook.delivery_id: longer than {_MAX_DELIVERY_ID} characters")
    job = data.get("job_id")
    if not isinstance(job, str) or not job:
        raise WireFormatError("webhook.job_id: expected a non-empty string")
    lines = data.get("lines")
    if not isinstance(lines, list) or not lines:
        raise WireFormatError("webhook.lines: expected a non-empty list")
    reports: list[LineStatus] = []
    for index, line in enumerate(lines):
        reports.append(parse_webhook_line(line, f"webhook.lines[{index}]"))
    return JudgedWebhook(dedupe_key=delivery, reports=tuple(reports))
