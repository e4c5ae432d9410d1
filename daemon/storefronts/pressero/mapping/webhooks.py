"""A Pressero webhook body read into its envelope (pressero.md §2), or a `BadEventPayload`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Final

from daemon.errors import BadEventPayload
from daemon.remote import json_text
from daemon.remote.json_text import JsonTooDeep
from daemon.storefronts.pressero import guesses as g
from daemon.storefronts.pressero.mapping.fields import Row

#: the webhook types esd acts on (pressero.md §2 lists them among the documented event names)
KNOWN_TYPES: Final = frozenset(
    {
        "OrderPlaced",
        "OrderItemApproved",
        "OrderItemDenied",
        "OrderItemStatusChanged",
        "OrderItemFilesGenerated",
        "PaymentReceived",
        "OrderUpdated",
        "OrderItemUpdated",
    }
)


#: the known types about one item: their `Data.OrderItemSeq` is required
ITEM_EVENT_TYPES: Final = frozenset(name for name in KNOWN_TYPES if name.startswith("OrderItem"))


@dataclasses.dataclass(frozen=True, slots=True)
class WebhookEnvelope:
    """One Pressero webhook delivery (pressero.md §2, `Models/EventData.cs`)."""

    type_name: str
    message_id: str
    site_id: str
    subscriber_id: str
    timestamp: dt.datetime
    type_code: int | None = None
    order_number: int | None = None
    item_seq: int | None = None

    @property
    def known(self) -> bool:
        """Is this a type esd acts on? Unknown types are logged and acknowledged."""
        return self.type_name in KNOWN_TYPES


def parse_envelope(body: bytes | str) -> WebhookEnvelope:
    """Read a webhook body; raise `BadEventPayload` naming the field that is wrong.

    Unknown `TypeName`s parse (with `known` False): Pressero documents more events than esd uses
    and their `Data` is not ours to judge. Known types must carry `Data.OrderNumber`, and the
    item types `Data.OrderItemSeq` as well.
    """
    try:
        data = json_text.loads(body)
    except JsonTooDeep as exc:
        raise BadEventPayload(f"webhook: body is {exc.msg} at char {exc.pos}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadEventPayload(f"webhook: body is not JSON: {exc}") from None
    return _envelope_as_sent(data) or _read_envelope(data)


def _read_envelope(data: object) -> WebhookEnvelope:
    """`parse_envelope` after the JSON parse: any spelling, numbers as strings, named errors."""
    envelope = Row(data, "webhook")
    type_name = envelope.text(g.ENVELOPE_TYPE_NAME, required=True, numbers=False)
    message_id = envelope.text(g.ENVELOPE_MESSAGE_ID, required=True)
    site_id = envelope.text(g.ENVELOPE_SITE_ID, required=True)
    timestamp = envelope.datetime(g.ENVELOPE_TIMESTAMP, required=True)
    assert timestamp is not None
    order_number: int | None = None
    item_seq: int | None = None
    if type_name in KNOWN_TYPES:  # the Data of other types is not ours to judge
        event = envelope.child(g.ENVELOPE_DATA)
        order_number = event.integer(g.EVENT_ORDER_NUMBER, required=True, minimum=1)
        is_item_event = type_name in ITEM_EVENT_TYPES
        seq = event.integer(g.EVENT_ORDER_SEQ, required=is_item_event, minimum=0)
        item_seq = seq or None  # 0: an order-level event (the C# model's default)
        if is_item_event and item_seq is None:
            raise BadEventPayload(
                f"webhook.{g.ENVELOPE_DATA}.{g.EVENT_ORDER_SEQ}: "
                f"{type_name} needs the item's sequence (1 or more)"
            )
    return WebhookEnvelope(
        type_name=type_name,
        message_id=message_id,
        site_id=site_id,
        subscriber_id=envelope.text(g.ENVELOPE_SUBSCRIBER_ID),
        timestamp=timestamp,
        type_code=envelope.integer(g.ENVELOPE_TYPE),
        order_number=order_number,
        item_seq=item_seq,
    )


def _envelope_as_sent(data: object) -> WebhookEnvelope | None:
    """`parse_envelope`'s reading of an envelope in the shape Pressero sends (every field
    present, spelled as documented, of its JSON type, the timestamp unpadded), or None for any
    other body, which the general reader then reads or refuses with the field's name.

    Webhook intake reads every delivery on the event loop, and the general reader's getters
    (any-case names, numbers as strings, error paths) cost more than the JSON parse itself
    (`make bench`, intake). Equal results for every body it reads: tests/unit (hypothesis).
    """
    if type(data) is not dict:
        return None
    type_name = data.get(g.ENVELOPE_TYPE_NAME)
    message_id = data.get(g.ENVELOPE_MESSAGE_ID)
    site_id = data.get(g.ENVELOPE_SITE_ID)
    subscriber_id = data.get(g.ENVELOPE_SUBSCRIBER_ID)
    stamp = data.get(g.ENVELOPE_TIMESTAMP)
    type_code = data.get(g.ENVELOPE_TYPE)
    if not (
        type(type_name) is str
        and type(message_id) is str
        and type(site_id) is str
        and type(subscriber_id) is str
        and type(stamp) is str
        and type(type_code) is int
        # no lone surrogate (`Row.text` refuses them): other text takes the general reader
        and type_name.isascii()
        and message_id.isascii()
        and site_id.isascii()
        and subscriber_id.isascii()
        and type_name
        and message_id
        and site_id
        and stamp
        and not stamp[0].isspace()
        and not stamp[-1].isspace()
    ):
        return None
    try:
        timestamp = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if timestamp.year == g.ORDER_DATE_ZERO_YEAR:
        return None
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=dt.UTC)
    order_number: int | None = None
    item_seq: int | None = None
    if type_name in KNOWN_TYPES:
        event = data.get(g.ENVELOPE_DATA)
        if type(event) is not dict:
            return None
        order_number = event.get(g.EVENT_ORDER_NUMBER)
        seq = event.get(g.EVENT_ORDER_SEQ)
        if type(order_number) is not int or order_number < 1 or type(seq) is not int:
            return None
        if type_name in ITEM_EVENT_TYPES:
            if seq < 1:
                return None
            item_seq = seq
        elif seq < 0:
            return None
        else:
            item_seq = seq or None
    return WebhookEnvelope(
        type_name=type_name,
        message_id=message_id,
        site_id=site_id,
        subscriber_id=subscriber_id,
        timestamp=timestamp,
        type_code=type_code,
        order_number=order_number,
        item_seq=item_seq,
    )
