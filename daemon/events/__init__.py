"""Every event kind's payload as a typed, frozen object, with one parser per kind.

The vocabulary the intake, the actors, the operator commands and the engine share: it sits
below all of them (it imports only the storefront kinds' names), so a storefront plug-in may
build an event without depending on the engine.

An event is stored as JSON (the inbox keeps what came in, verbatim, so a bad one can be shown
and replayed). A handler never reads that JSON by hand: it asks for its kind's object
(`Context.payload`), and the parser either builds it or raises one `BadEventPayload` naming
the event, the kind, the field and what was wrong ("event 7 (push.result): 'outcome' must be
one of absent, pushed, permanent, transient, got 'maybe'"). The engine keeps such an event,
marked poisoned with that error, as it keeps any event whose handler raises.

Producers build the object and store `to_payload(obj)`: the JSON has the same keys as before
these types existed, so events stored by older versions parse (a key added since is optional,
with the default the handlers used; legacy kinds such as `pressero.webhook` parse as the
storefront webhook they are).

Timer payloads (the `payload` of a `timer.fired` event, and of the timer row) have types too:
`RetryTimer`, `StatusPollTimer`, `ImportRetryTimer`, `StorefrontPollTimer`, and the leases'
`FetchLease`, `WriteLease`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from daemon.errors import BadEventPayload
from daemon.events.fields import SPREAD, Fields, Payload
from daemon.events.imports import ImportClaim, ImportPage, ImportRequest, ImportResult
from daemon.events.operator import OperatorPoll, OperatorPush, OperatorReplay, OperatorSync
from daemon.events.pushes import (
    LineStatus,
    MisLineStatus,
    MisWebhook,
    OrderSnapshot,
    PushClaim,
    PushedItem,
    PushOutcome,
    PushResult,
    StatusReport,
)
from daemon.events.storefronts import (
    WEBHOOK_KINDS,
    FetchFailed,
    StorefrontOrder,
    StorefrontPoll,
    StorefrontWebhook,
    WriteFailed,
    Written,
)
from daemon.events.timers import (
    FetchLease,
    ImportRetryTimer,
    RetryTimer,
    StatusPollTimer,
    StorefrontPollTimer,
    TimerFired,
    WriteLease,
)

__all__ = [
    "PAYLOADS",
    "SPREAD",
    "TIMER_PAYLOADS",
    "WEBHOOK_KINDS",
    "FetchFailed",
    "FetchLease",
    "Fields",
    "ImportClaim",
    "ImportPage",
    "ImportRequest",
    "ImportResult",
    "ImportRetryTimer",
    "LineStatus",
    "MisLineStatus",
    "MisWebhook",
    "OperatorPoll",
    "OperatorPush",
    "OperatorReplay",
    "OperatorSync",
    "OrderSnapshot",
    "Payload",
    "PushClaim",
    "PushOutcome",
    "PushResult",
    "PushedItem",
    "RetryTimer",
    "StatusPollTimer",
    "StatusReport",
    "StorefrontOrder",
    "StorefrontPoll",
    "StorefrontPollTimer",
    "StorefrontWebhook",
    "TimerFired",
    "WriteFailed",
    "WriteLease",
    "Written",
    "kind_of",
    "parse_as",
    "parse_payload",
    "parse_timer",
    "to_payload",
    "where_of",
]


_P = TypeVar("_P")


#: event kind -> its payload's parser (the storefront webhook under every kind it is stored as)
PAYLOADS: Mapping[str, Callable[[object, str], object]] = {
    **{
        cls.KIND: cls.parse
        for cls in (
            OrderSnapshot,
            PushClaim,
            PushResult,
            StatusReport,
            MisWebhook,
            TimerFired,
            OperatorPush,
            OperatorReplay,
            OperatorSync,
            OperatorPoll,
            ImportRequest,
            ImportClaim,
            ImportPage,
            ImportResult,
            StorefrontOrder,
            FetchFailed,
            StorefrontPoll,
            Written,
            WriteFailed,
        )
    },
    **{kind: functools.partial(StorefrontWebhook.parse_of, kind) for kind in WEBHOOK_KINDS},
}


#: timer kind -> its payload's parser
TIMER_PAYLOADS: Mapping[str, Callable[[object, str], object]] = {
    cls.KIND: cls.parse
    for cls in (
        RetryTimer,
        StatusPollTimer,
        ImportRetryTimer,
        StorefrontPollTimer,
        FetchLease,
        WriteLease,
    )
}


def where_of(event_id: int | None, kind: str) -> str:
    """How an error names the event: "event 7 (push.result)"."""
    return f"event {event_id} ({kind})" if event_id is not None else f"({kind})"


def parse_payload(kind: str, data: object, *, event_id: int | None = None) -> object:
    """The typed payload of an event of `kind` (BadEventPayload naming kind and field)."""
    parser = PAYLOADS.get(kind)
    if parser is None:
        raise BadEventPayload(f"{where_of(event_id, kind)}: no payload type for this kind")
    return parser(data, where_of(event_id, kind))


def parse_timer(kind: str, data: object, *, event_id: int | None = None) -> object:
    """The typed payload of a timer of `kind`."""
    parser = TIMER_PAYLOADS.get(kind)
    if parser is None:
        raise BadEventPayload(f"{where_of(event_id, 'timer.fired')}: unknown timer kind {kind!r}")
    return parser(data, f"{where_of(event_id, 'timer.fired')}.payload ({kind} timer)")


def parse_as(cls: type[_P], kind: str, data: object, *, event_id: int | None = None) -> _P:
    """`parse_payload`, checked to be `cls` (what a handler of that kind expects)."""
    parsed = parse_payload(kind, data, event_id=event_id)
    if not isinstance(parsed, cls):
        raise BadEventPayload(
            f"{where_of(event_id, kind)}: a {cls.__name__} handler got a {type(parsed).__name__}"
        )
    return parsed


def kind_of(value: object) -> str:
    """The event kind a typed payload is stored under (its class's KIND)."""
    kind = getattr(type(value), "KIND", None)
    if not isinstance(kind, str) or kind not in PAYLOADS:
        raise TypeError(f"not a typed event payload: {value!r}")
    return kind


def to_payload(value: object) -> dict[str, Any]:
    """The JSON object a typed payload is stored as (the keys every version has written).

    A field marked `SPREAD` (a fetched order's raw `answer`) is not stored under its name: its
    keys are stored beside the others and win over them, as its producer always wrote it."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        raise TypeError(f"not a typed payload: {value!r}")
    out: dict[str, Any] = {}
    spread: list[Mapping[str, Any]] = []
    for field in dataclasses.fields(value):
        if field.metadata.get(SPREAD):
            spread.append(getattr(value, field.name))
        else:
            out[field.name] = _json_of(getattr(value, field.name))
    for mapping in spread:
        out.update(_json_of(mapping))
    return out


def _json_of(value: object) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_payload(value)
    if isinstance(value, tuple | list):
        return [_json_of(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json_of(v) for k, v in value.items()}
    return value
