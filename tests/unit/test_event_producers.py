"""Every event kind as its producer builds it: the typed object, stored with `to_payload`, parses
back through its kind's parser, and the JSON keeps the keys the producer wrote before the types
existed (so an event stored by an older esd parses to the same object as a new one).

A producer that writes a payload its handler's parser refuses fails here (and mypy checks the
fields it passes); a kind added to `PAYLOADS` without a producer case here fails the coverage
test."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from daemon import events as ev
from daemon.actors.driver_actor import _push_failed, _pushed
from daemon.errors import PermanentError, TransientError
from daemon.providers.contract import ItemRef
from daemon.providers.contract import PushResult as DriverPushResult
from daemon.storefronts.contract import WEBHOOK_KIND

ORDER = {"site": "s", "order": "1001", "account": "mis"}
CLAIM = ev.PushClaim("s", "1001", "mis")
LEASE = {"storefront": "shop", "site": "s", "order": "1001", "generation": 5}
RAW_ANSWER = {"Order": {"OrderNumber": "1001", "Items": [{"ItemNumber": 1}]}, "extra": [1, 2]}

#: (case id, the typed payload as its producer builds it, the JSON that producer wrote before)
PRODUCED: list[tuple[str, object, dict[str, Any]]] = [
    # operator `submit` of an order snapshot (daemon/operator/commands.py)
    (
        "order.snapshot",
        ev.OrderSnapshot({"site": "s", "order_number": "1001"}, "uid 0"),
        {"order": {"site": "s", "order_number": "1001"}, "submitted_by": "uid 0"},
    ),
    # the driver actor (daemon/actors/driver_actor.py)
    ("push.claim", CLAIM, dict(ORDER)),
    (
        "push.result pushed",
        _pushed(
            CLAIM,
            [1, 2],
            DriverPushResult("J9", (ItemRef(1, "J9-1"), ItemRef(2, "J9-2")), ("a warning",)),
            "push",
        ),
        {
            **ORDER,
            "outcome": "pushed",
            "via": "push",
            "order_external_id": "J9",
            "items": [{"seq": 1, "external_id": "J9-1"}, {"seq": 2, "external_id": "J9-2"}],
            "warnings": ["a warning"],
            "seqs": [1, 2],
        },
    ),
    (
        "push.result reconciled",
        _pushed(CLAIM, [1], DriverPushResult("J9", (ItemRef(1, "J9-1"),)), "reconcile"),
        {
            **ORDER,
            "outcome": "pushed",
            "via": "reconcile",
            "order_external_id": "J9",
            "items": [{"seq": 1, "external_id": "J9-1"}],
            "warnings": [],
            "seqs": [1],
        },
    ),
    (
        "push.result absent",
        ev.PushResult("s", "1001", "mis", "absent", (1,), "reconcile"),
        {**ORDER, "outcome": "absent", "via": "reconcile", "seqs": [1]},
    ),
    (
        "push.result transient",
        _push_failed(CLAIM, [1], TransientError("busy", retry_after=30)),
        {
            **ORDER,
            "outcome": "transient",
            "error": "TransientError: busy",
            "retry_after": 30,
            "seqs": [1],
        },
    ),
    (
        "push.result permanent",
        _push_failed(CLAIM, [1, 2], PermanentError("no such customer")),
        {
            **ORDER,
            "outcome": "permanent",
            "error": "PermanentError: no such customer",
            "seqs": [1, 2],
        },
    ),
    (
        "push.result driver bug",
        _push_failed(CLAIM, [1], KeyError("Job")),
        {**ORDER, "outcome": "permanent", "error": "driver bug: KeyError: 'Job'", "seqs": [1]},
    ),
    (
        "status.report",
        ev.StatusReport(
            "s", "1001", "mis", (ev.LineStatus(1, "Shipped", ("1Z",)), ev.LineStatus(2, "Open"))
        ),
        {
            **ORDER,
            "reports": [
                {"seq": 1, "status": "Shipped", "tracking": ["1Z"]},
                {"seq": 2, "status": "Open", "tracking": []},
            ],
        },
    ),
    (
        "import.claim",
        ev.ImportClaim(3),
        {"batch_id": 3},
    ),
    (
        "import.page",
        ev.ImportPage(3, ({"key": "P1", "name": "Flyer", "tags": ["a"]},)),
        {"batch_id": 3, "records": [{"key": "P1", "name": "Flyer", "tags": ["a"]}]},
    ),
    ("import.result done", ev.ImportResult(3, "done"), {"batch_id": 3, "outcome": "done"}),
    (
        "import.result interrupted",
        ev.ImportResult(3, "interrupted"),
        {"batch_id": 3, "outcome": "interrupted"},
    ),
    (
        "import.result transient",
        ev.ImportResult(3, "transient", "TransientError: slow", 12.5),
        {
            "batch_id": 3,
            "outcome": "transient",
            "error": "TransientError: slow",
            "retry_after": 12.5,
        },
    ),
    # operator commands (daemon/operator/commands.py)
    (
        "operator.push",
        ev.OperatorPush("s", "1001", None, "uid 1000 (ann)"),
        {"site": "s", "order": "1001", "account": None, "by": "uid 1000 (ann)"},
    ),
    (
        "operator.replay",
        ev.OperatorReplay(7, None),
        {"event_id": 7, "by": None},
    ),
    ("operator.sync", ev.OperatorSync("mis"), {"account": "mis"}),
    ("operator.sync all", ev.OperatorSync(None), {"account": None}),
    ("operator.poll", ev.OperatorPoll("shop"), {"storefront": "shop"}),
    (
        "import.request",
        ev.ImportRequest("mis", "products"),
        {"account": "mis", "kind": "products"},
    ),
    # the MIS webhook intake (daemon/intake/mis_webhooks.py)
    (
        "mis.webhook",
        ev.MisWebhook("mis", "d1", (ev.MisLineStatus("J9-1", "Done", ("1Z",), "2026-01-01"),)),
        {
            "account": "mis",
            "dedupe_key": "d1",
            "reports": [
                {
                    "external_id": "J9-1",
                    "status": "Done",
                    "tracking": ["1Z"],
                    "shipped_at": "2026-01-01",
                }
            ],
        },
    ),
    # the timer loop (daemon/engine/engine.py)
    (
        "timer.fired",
        ev.TimerFired(1, "retry", "s/1001", 10.0, {**ORDER, "seq": 1}),
        {
            "timer_id": 1,
            "kind": "retry",
            "subject": "s/1001",
            "due_at": 10.0,
            "payload": {**ORDER, "seq": 1},
        },
    ),
    # the storefront webhook intake (daemon/storefronts/pressero/webhook.py)
    (
        WEBHOOK_KIND,
        ev.StorefrontWebhook("pressero", "s", "OrderCreated", "1001", None, True, "m1", "t", "{}"),
        {
            "provider": "pressero",
            "site": "s",
            "type": "OrderCreated",
            "order": "1001",
            "item_seq": None,
            "known": True,
            "message_id": "m1",
            "timestamp": "t",
            "body": "{}",
        },
    ),
    # the storefront actor (daemon/storefronts/actor.py)
    (
        "storefront.order",
        ev.StorefrontOrder("shop", "pressero", "s", "1001", 5, RAW_ANSWER),
        {**LEASE, "provider": "pressero", **RAW_ANSWER},
    ),
    (
        "storefront.fetch_failed",
        ev.FetchFailed("shop", "s", "1001", 5, permanent=False, error="busy", retry_after=9.0),
        {**LEASE, "permanent": False, "error": "busy", "retry_after": 9.0},
    ),
    (
        "storefront.poll",
        ev.StorefrontPoll("shop", "s", ("1001", "1002"), "a", "b"),
        {
            "storefront": "shop",
            "site": "s",
            "orders": ["1001", "1002"],
            "window_start": "a",
            "window_end": "b",
        },
    ),
    (
        "storefront.written",
        ev.Written("shop", "s", "1001", 1, "mis_id", 5, None, done="MisId set"),
        {**LEASE, "seq": 1, "op": "mis_id", "done": "MisId set"},
    ),
    (
        "storefront.written note",
        ev.Written("shop", "s", "1001", 1, "note", 5, "mis", done="note added"),
        {**LEASE, "seq": 1, "op": "note", "account": "mis", "done": "note added"},
    ),
    (
        "storefront.write_failed",
        ev.WriteFailed("shop", "s", "1001", 1, "status", 5, None, True, "gone", None),
        {
            **LEASE,
            "seq": 1,
            "op": "status",
            "permanent": True,
            "error": "gone",
            "retry_after": None,
        },
    ),
]

#: (case id, the typed timer payload as its producer builds it, the JSON written before)
TIMERS_PRODUCED: list[tuple[str, Any, dict[str, Any]]] = [
    ("retry", ev.RetryTimer("s", "1001", "mis", 2), {**ORDER, "seq": 2}),
    ("status_poll", ev.StatusPollTimer("mis"), {"account": "mis"}),
    ("import_retry", ev.ImportRetryTimer(4), {"batch_id": 4}),
    ("storefront_poll", ev.StorefrontPollTimer("shop"), {"storefront": "shop"}),
    # The leases as request_fetch / request_write build them (request_lease then adds its
    # bookkeeping: generation, attempts, first_failure_at).
    (
        "storefront_fetch",
        ev.FetchLease("shop", "s", "1001", 5, "OrderCreated", {}),
        {**LEASE, "why": "OrderCreated"},
    ),
    (
        "storefront_write",
        ev.WriteLease("shop", "s", "1001", 1, "note", 5, "mis", {"text": "hi", "kind": "pushed"}),
        {**LEASE, "seq": 1, "op": "note", "account": "mis", "text": "hi", "kind": "pushed"},
    ),
    (
        "storefront_write without account",
        ev.WriteLease("shop", "s", "1001", 1, "mis_id", 5, None, {"mis_id": "J9-1"}),
        {**LEASE, "seq": 1, "op": "mis_id", "mis_id": "J9-1"},
    ),
]


def _ids(cases: list[tuple[str, Any, dict[str, Any]]]) -> list[str]:
    return [case for case, _, _ in cases]


def test_every_event_kind_has_a_producer_case() -> None:
    covered = {ev.kind_of(typed) for _, typed, _ in PRODUCED}
    # The legacy `<provider>.webhook` kinds are only ever read (stored by older versions).
    assert covered == (set(ev.PAYLOADS) - ev.WEBHOOK_KINDS) | {WEBHOOK_KIND}
    timers = {type(typed).KIND for _, typed, _ in TIMERS_PRODUCED}
    assert timers == set(ev.TIMER_PAYLOADS)


@pytest.mark.parametrize(("case", "typed", "legacy"), PRODUCED, ids=_ids(PRODUCED))
def test_a_produced_payload_parses_as_its_kind(
    case: str, typed: object, legacy: dict[str, Any]
) -> None:
    kind = ev.kind_of(typed)
    stored = ev.to_payload(typed)
    parsed = ev.parse_payload(kind, stored, event_id=1)
    assert type(parsed) is type(typed)
    # Stored again, it is the same JSON: nothing the producer wrote is lost by the parser.
    assert ev.to_payload(parsed) == stored


@pytest.mark.parametrize(("case", "typed", "legacy"), PRODUCED, ids=_ids(PRODUCED))
def test_a_produced_payload_keeps_the_keys_of_older_versions(
    case: str, typed: object, legacy: dict[str, Any]
) -> None:
    kind = ev.kind_of(typed)
    stored = ev.to_payload(typed)
    # Every key an older producer wrote is written, with the same value (a key added since is
    # one the parser reads as optional, so it may be absent from an old event).
    assert {k: stored[k] for k in legacy if k in stored} == legacy
    # An event an older esd stored parses to the same object as a new one.
    assert ev.parse_payload(kind, legacy, event_id=1) == ev.parse_payload(kind, stored, event_id=2)


@pytest.mark.parametrize(("case", "typed", "legacy"), TIMERS_PRODUCED, ids=_ids(TIMERS_PRODUCED))
def test_a_produced_timer_payload_parses_and_keeps_its_keys(
    case: str, typed: Any, legacy: dict[str, Any]
) -> None:
    kind = type(typed).KIND
    stored = ev.to_payload(typed)
    assert {k: stored[k] for k in legacy if k in stored} == legacy
    parsed = ev.parse_timer(kind, stored)
    assert ev.to_payload(parsed) == stored
    # Parsed, an older timer is the same (a lease's `data`, the whole payload, aside: a write
    # lease without an account now says `"account": null`, read as no account as before).
    old: Any = ev.parse_timer(kind, legacy)
    new: Any = ev.parse_timer(kind, stored)
    if isinstance(old, ev.FetchLease | ev.WriteLease):
        old, new = dataclasses.replace(old, data={}), dataclasses.replace(new, data={})
    assert old == new


def test_a_fetched_order_is_stored_flat_with_its_raw_answer_winning() -> None:
    # storefront.order was always `{**lease, "provider": ..., **raw}`: the answer's keys sit
    # beside the lease's, and win over them.
    answer = {**RAW_ANSWER, "site": "from-the-answer"}
    stored = ev.to_payload(ev.StorefrontOrder("shop", "pressero", "s", "1001", 5, answer))
    assert stored == {**LEASE, "provider": "pressero", **answer}
    assert "answer" not in stored


def test_kind_of_refuses_what_is_not_an_event_payload() -> None:
    with pytest.raises(TypeError, match="not a typed event payload"):
        ev.kind_of(ev.RetryTimer("s", "1001", "mis"))  # a timer's payload, not an event's
    with pytest.raises(TypeError, match="not a typed event payload"):
        ev.kind_of({"site": "s"})
