"""Typed event payloads: each kind's parser builds its object from the stored JSON, or says
which event, kind and field is wrong; what producers store parses back to the same object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from daemon import events as ev
from daemon.engine.engine import Engine
from daemon.errors import BadEventPayload
from daemon.statecharts import load_charts
from daemon.store import inbox
from daemon.store.database import Database
from tests.helpers import ManualClock, make_config

ORDER = {"site": "s", "order": "1001", "account": "mis"}

#: (kind, payload, the field the error must name, what it must say about it)
BAD: list[tuple[str, Any, str, str]] = [
    ("push.claim", [1, 2], "the payload", "must be an object"),
    ("push.claim", {"site": "s", "order": "1001"}, "'account'", "must be a string, got None"),
    ("push.claim", {**ORDER, "site": 5}, "'site'", "must be a string, got 5"),
    (
        "push.result",
        {**ORDER, "outcome": "maybe"},
        "'outcome'",
        "must be one of absent, permanent, pushed, transient",
    ),
    ("push.result", {**ORDER, "outcome": "pushed", "seqs": [1, "2"]}, "'seqs[1]'", "an integer"),
    (
        "push.result",
        {**ORDER, "outcome": "pushed", "items": [{"external_id": "J1"}]},
        "items[0]: 'seq'",
        "must be an integer",
    ),
    ("status.report", {**ORDER, "reports": {}}, "'reports'", "must be a list, got {}"),
    (
        "status.report",
        {**ORDER, "reports": [{"seq": 1, "status": "Open"}, {"seq": True, "status": "x"}]},
        "reports[1]: 'seq'",
        "must be an integer, got True",
    ),
    ("status.report", {**ORDER, "reports": [{"seq": 1}]}, "reports[0]: 'status'", "a string"),
    ("mis.webhook", {"account": "mis", "reports": [{"status": "x"}]}, "'external_id'", "string"),
    ("mis.webhook", {"reports": []}, "'account'", "must be a string"),
    ("order.snapshot", {"order": "1001"}, "'order'", "must be an object, got '1001'"),
    ("operator.push", {"site": "s"}, "'order'", "must be a string"),
    ("operator.push", {"site": "s", "order": "1", "account": 3}, "'account'", "string or null"),
    ("operator.replay", {"event_id": "7"}, "'event_id'", "must be an integer, got '7'"),
    ("import.request", {"account": "mis"}, "'kind'", "must be a string"),
    ("import.claim", {}, "'batch_id'", "must be an integer, got None"),
    ("import.page", {"batch_id": 1, "records": "x"}, "'records'", "must be a list"),
    ("import.page", {"batch_id": 1, "records": [{"name": "a"}]}, "records[0]: 'key'", "present"),
    ("import.result", {"batch_id": 1}, "'outcome'", "must be a string"),
    ("timer.fired", {"payload": {}}, "'kind'", "must be a string"),
    ("timer.fired", {"kind": "retry", "payload": [1]}, "'payload'", "must be an object"),
    ("storefront.webhook", {"provider": "nope", "site": "s"}, "'provider'", "known storefront"),
    (
        "storefront.order",
        {"provider": "pressero", "site": "s", "order": "1", "generation": "3"},
        "'generation'",
        "must be an integer, got '3'",
    ),
    ("storefront.fetch_failed", {"site": "s", "order": "1"}, "'generation'", "an integer"),
    ("storefront.poll", {"site": "s", "orders": "1,2"}, "'orders'", "must be a list"),
    (
        "storefront.written",
        {"site": "s", "order": "1", "seq": 1, "generation": 2},
        "'op'",
        "must be a string",
    ),
    (
        "storefront.write_failed",
        {"site": "s", "order": "1", "seq": "1", "op": "note", "generation": 2},
        "'seq'",
        "must be an integer",
    ),
]


@pytest.mark.parametrize(
    ("kind", "payload", "field", "what"), BAD, ids=[f"{c[0]}:{c[2]}" for c in BAD]
)
def test_a_bad_payload_is_refused_naming_event_kind_and_field(
    kind: str, payload: Any, field: str, what: str
) -> None:
    with pytest.raises(BadEventPayload) as refused:
        ev.parse_payload(kind, payload, event_id=42)
    message = refused.value.message
    assert message.startswith(f"event 42 ({kind})"), message
    assert field in message and what in message, message


#: (timer kind, timer payload, field, what)
BAD_TIMERS: list[tuple[str, Any, str, str]] = [
    ("retry", {"site": "s", "order": "1"}, "'account'", "must be a string"),
    ("retry", {"site": "s", "order": "1", "account": "a", "seq": "2"}, "'seq'", "integer or null"),
    ("status_poll", {}, "'account'", "must be a string"),
    ("import_retry", {"batch_id": None}, "'batch_id'", "must be an integer"),
    ("storefront_poll", {"storefront": 1}, "'storefront'", "must be a string"),
    ("storefront_fetch", {"storefront": "p", "site": "s", "order": "1"}, "'generation'", "int"),
    (
        "storefront_write",
        {"storefront": "p", "site": "s", "order": "1", "op": "note", "generation": 1},
        "'seq'",
        "must be an integer",
    ),
]


@pytest.mark.parametrize(
    ("kind", "payload", "field", "what"), BAD_TIMERS, ids=[f"{c[0]}:{c[2]}" for c in BAD_TIMERS]
)
def test_a_bad_timer_payload_is_refused_naming_the_timer_kind_and_field(
    kind: str, payload: Any, field: str, what: str
) -> None:
    with pytest.raises(BadEventPayload) as refused:
        ev.parse_timer(kind, payload, event_id=9)
    message = refused.value.message
    assert message.startswith(f"event 9 (timer.fired).payload ({kind} timer)"), message
    assert field in message and what in message, message


def test_an_unknown_kind_or_timer_kind_is_named() -> None:
    with pytest.raises(BadEventPayload, match=r"^event 3 \(nope\.kind\): no payload type"):
        ev.parse_payload("nope.kind", {}, event_id=3)
    with pytest.raises(BadEventPayload, match=r"unknown timer kind 'nope'"):
        ev.parse_timer("nope", {}, event_id=3)


#: typed payloads as producers build them: stored as JSON, they parse back to themselves
ROUND_TRIPS: list[Any] = [
    ev.PushClaim("s", "1001", "mis"),
    ev.PushResult(
        "s",
        "1001",
        "mis",
        "pushed",
        seqs=(1, 2),
        order_external_id="J9",
        items=(ev.PushedItem(1, "J9-1"), ev.PushedItem(2, "J9-2")),
        warnings=("a warning",),
    ),
    ev.PushResult("s", "1001", "mis", "transient", seqs=(1,), error="boom", retry_after=30.0),
    ev.StatusReport("s", "1001", "mis", (ev.LineStatus(1, "Shipped", ("1Z",)),)),
    ev.MisWebhook("mis", "d1", (ev.MisLineStatus("J9-1", "Done", ("1Z",), "2026-01-01"),)),
    ev.OperatorPush("s", "1001", None, "uid 1000 (ann)"),
    ev.OperatorReplay(7, "uid 1000 (ann)"),
    ev.OperatorSync("mis"),
    ev.OperatorPoll(None),
    ev.ImportRequest("mis", "products"),
    ev.ImportClaim(3),
    ev.ImportResult(3, "transient", "slow", 12.5),
    ev.StorefrontWebhook("pressero", "s", "OrderCreated", "1001", None, True, "m1", "t", "{}"),
    ev.FetchFailed("shop", "s", "1001", 5, True, "gone"),
    ev.StorefrontPoll("shop", "s", ("1001", "1002"), "a", "b"),
    ev.Written("shop", "s", "1001", 1, "note", 5, "mis"),
    ev.WriteFailed("shop", "s", "1001", 1, "status", 5, None, False, "busy", 60.0),
    ev.TimerFired(1, "retry", "s/1001/mis/1", 10.0, {"site": "s"}),
]


@pytest.mark.parametrize("typed", ROUND_TRIPS, ids=[type(t).__name__ for t in ROUND_TRIPS])
def test_what_a_producer_stores_parses_back_to_the_same_object(typed: Any) -> None:
    assert ev.parse_payload(typed.KIND, ev.to_payload(typed), event_id=1) == typed


@pytest.mark.parametrize(
    "timer",
    [
        ev.RetryTimer("s", "1001", "mis", 2),
        ev.StatusPollTimer("mis"),
        ev.ImportRetryTimer(4),
        ev.StorefrontPollTimer("shop"),
    ],
    ids=lambda t: type(t).__name__,
)
def test_timer_payloads_round_trip(timer: Any) -> None:
    assert ev.parse_timer(timer.KIND, ev.to_payload(timer)) == timer


def test_stored_payloads_of_older_versions_still_parse() -> None:
    # A webhook stored before storefronts became plug-ins: its kind names the provider.
    old = {"site": "s", "type": "OrderCreated", "order": "1001", "known": True, "body": "{}"}
    hook = ev.parse_payload("pressero.webhook", old, event_id=1)
    assert isinstance(hook, ev.StorefrontWebhook)
    assert (hook.provider, hook.order) == ("pressero", "1001")
    # A retry timer of esd before store version 3 had no seq: it moves every item.
    timer = ev.parse_timer("retry", {"site": "s", "order": "1", "account": "a"})
    assert isinstance(timer, ev.RetryTimer) and timer.seq is None
    # An operator submit records who by as `submitted_by`; push results before `via` existed.
    snapshot = ev.parse_payload("order.snapshot", {"order": {}, "submitted_by": "uid 0"})
    assert isinstance(snapshot, ev.OrderSnapshot) and snapshot.submitted_by == "uid 0"
    result = ev.parse_payload("push.result", {**ORDER, "outcome": "absent"})
    assert isinstance(result, ev.PushResult) and (result.via, result.seqs) == ("push", ())


def test_a_handler_gets_the_type_it_expects_or_a_named_error() -> None:
    with pytest.raises(BadEventPayload, match=r"a PushResult handler got a PushClaim"):
        ev.parse_as(ev.PushResult, "push.claim", ORDER, event_id=5)


def test_an_event_whose_payload_does_not_parse_is_kept_as_poisoned_with_that_error(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        db = await Database.open(tmp_path / "esd.sqlite3")
        try:
            engine = Engine(db, load_charts(), make_config(tmp_path), ManualClock())
            bad = inbox.NewEvent("actor:mis", "b1", "push.result", {**ORDER, "outcome": "maybe"})
            applied = await engine.apply(bad)
            assert applied.error is not None
            assert f"event {applied.event_id} (push.result): 'outcome' must be one of" in (
                applied.error
            )
            async with db.reading() as txn:
                kept = await inbox.get_event(txn, applied.event_id)
            assert kept is not None and kept.status == "poisoned"
            assert kept.error == applied.error and kept.payload["outcome"] == "maybe"
            assert engine.poisoned == 1
        finally:
            await db.close()

    anyio.run(main)
