"""Judging one Pressero webhook delivery (sans-IO): signature, envelope, the inbox event.

The signature is checked over the raw body bytes before anything else is read, so an unsigned
or forged body is refused (401) without being parsed or stored. A signed body that is not a
valid envelope is refused with 400 naming the field. A valid one becomes an inbox event (with the
body verbatim) whose dedupe key is the delivery's MessageID: a redelivery is acknowledged and
ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from daemon.config import Site
from daemon.errors import BadEventPayload
from daemon.events import StorefrontWebhook, to_payload
from daemon.store.inbox import NewEvent
from daemon.storefronts.contract import WEBHOOK_KIND, Accept, Reject
from daemon.storefronts.pressero.guesses import (
    DEFAULT_HASH_VARIANT,
    MESSAGE_HASH_HEADER,
    HashVariant,
)
from daemon.storefronts.pressero.mapping import parse_envelope
from daemon.storefronts.pressero.signature import verify

__all__ = ["PROVIDER", "judge"]

#: the plug-in's name, in the event's source and payload (the kind is storefront-neutral)
PROVIDER = "pressero"

#: the signature header as looked up (WebhookApp lower-cases header names)
_HASH_HEADER = MESSAGE_HASH_HEADER.lower()


def judge(site: Site, headers: Mapping[str, str], body: bytes) -> Accept | Reject:
    """Accept the delivery as an inbox event, or say why not (status, counter, detail)."""
    security_key = site.settings.get("security_key")
    if not security_key:
        return Reject(401, "no_security_key", f"site {site.key} has no security_key configured")
    received = headers.get(_HASH_HEADER)
    if not received:
        return Reject(401, "missing_signature", f"no {MESSAGE_HASH_HEADER} header")
    variant = HashVariant(site.settings.get("hash_variant", DEFAULT_HASH_VARIANT))
    if not verify(security_key, body, received, variant):
        return Reject(401, "bad_signature", f"{MESSAGE_HASH_HEADER} does not match the body")
    # The delivery is kept verbatim (the exact bytes that were signed), as text: parsing it
    # again only to re-serialise it cost intake throughput and would not be the signed bytes.
    # Decoded once, strictly: json.loads would let an encoded surrogate through.
    try:
        raw = body.decode(json.detect_encoding(body))
    except UnicodeDecodeError as exc:
        return Reject(400, "malformed", f"webhook: body is not UTF-8 (or -16, -32) text: {exc}")
    try:
        envelope = parse_envelope(raw)
    except BadEventPayload as exc:
        return Reject(400, "malformed", str(exc))
    order = None if envelope.order_number is None else str(envelope.order_number)
    return Accept(
        NewEvent(
            source=f"{PROVIDER}:{site.key}",
            dedupe_key=envelope.message_id,
            kind=WEBHOOK_KIND,
            payload=to_payload(
                StorefrontWebhook(
                    provider=PROVIDER,
                    site=site.key,
                    type=envelope.type_name,
                    known=envelope.known,
                    order=order,
                    item_seq=envelope.item_seq,
                    message_id=envelope.message_id,
                    timestamp=envelope.timestamp.isoformat(),
                    body=raw,
                )
            ),
            subject=None if order is None else f"{site.key}/{order}",
        )
    )
