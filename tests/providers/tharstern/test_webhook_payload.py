"""The one parser of Tharstern's job status / delivery webhook (seed 002: "enabling webhooks +
subscriptions so Tharstern job status and tracking numbers flow back"). The payload is not
public: these bodies follow the guesses, and the field map adapts them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from daemon.providers.contract import ItemRef, LineStatus, StatusReport
from daemon.providers.tharstern.webhook_payload import (
    DELIVERY_STATUS,
    PayloadError,
    field_map_problems,
    parse_body,
    parse_event,
    parse_field_map,
    status_reports,
)

SHIPPED = dt.datetime(2024, 6, 5, 10, 0, tzinfo=dt.UTC)


def body(data: object) -> bytes:
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("data", "dedupe", "lines"),
    [
        # a job status change
        (
            {"EventId": "ev-1", "EventType": "JobStatusChanged", "JobNo": "J100", "Status": "40"},
            "ev-1",
            [LineStatus("J100", "40")],
        ),
        # a despatch with tracking numbers and a date
        (
            {
                "EventId": "ev-2",
                "JobNo": 100,
                "Status": "Despatched",
                "TrackingNumbers": ["1Z1", " 1Z2 ", "", "1Z1"],
                "DespatchDate": "2024-06-05T10:00:00Z",
            },
            "ev-2",
            [LineStatus("100", "Despatched", ("1Z1", "1Z2"), SHIPPED)],
        ),
        # a delivery note with only a consignment number: the delivery status
        (
            {"EventId": "ev-3", "JobNo": "J100", "ConsignNote": "CN-7"},
            "ev-3",
            [LineStatus("J100", DELIVERY_STATUS, ("CN-7",))],
        ),
        # a sales order event names the order
        (
            {"EventId": "ev-4", "OrderNo": "SO-55", "Status": "Invoiced"},
            "ev-4",
            [LineStatus("SO-55", "Invoiced")],
        ),
        # one text of tracking; a naive date taken as UTC
        (
            {
                "EventId": "ev-5",
                "JobNo": "J1",
                "Status": "Despatched",
                "TrackingNumbers": "1Z5",
                "DespatchDate": "2024-06-05T10:00:00",
            },
            "ev-5",
            [LineStatus("J1", "Despatched", ("1Z5",), SHIPPED)],
        ),
        # a list of events
        (
            [
                {"EventId": "a", "JobNo": "J1", "Status": "40"},
                {"EventId": "b", "JobNo": "J2", "Status": "50"},
            ],
            "a+b",
            [LineStatus("J1", "40"), LineStatus("J2", "50")],
        ),
    ],
)
def test_bodies(data: object, dedupe: str, lines: list[LineStatus]) -> None:
    parsed = parse_body(body(data))
    assert parsed.dedupe_key == dedupe
    assert list(parsed.lines) == lines


def test_without_an_event_id_the_body_s_digest_dedupes() -> None:
    raw = body({"JobNo": "J1", "Status": "40"})
    assert parse_body(raw).dedupe_key == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert parse_body(raw).dedupe_key == parse_body(raw).dedupe_key


def test_the_field_map_adapts_a_nested_payload() -> None:
    # issue 14: "a configurable field map so a shop can adapt it without a release"
    fields, problems = parse_field_map(
        {
            "events": "Items",
            "event_id": "Meta.Id",
            "job_no": "Job.Number",
            "status": "Job.State.Name",
            "tracking": "Delivery.Numbers",
        }
    )
    assert problems == []
    data = {
        "Meta": {"Id": "m-1"},
        "Items": [
            {
                "Meta": {"Id": "m-1"},
                "Job": {"Number": "J7", "State": {"Name": "Despatched"}},
                "Delivery": {"Numbers": ["TRK"]},
            }
        ],
    }
    parsed = parse_body(body(data), fields)
    assert parsed.lines == (LineStatus("J7", "Despatched", ("TRK",)),)
    assert parsed.dedupe_key == "m-1"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff\xfe", "webhook: body is not UTF-8 text"),
        (b"{not json", "webhook: body is not JSON"),
        (b"[]", "webhook: an empty list of events"),
        (b'"text"', "webhook: expected an event object or a list of them, got str"),
        (b"[1]", "webhook[0]: expected an object, got int"),
        (body({"Status": "40"}), "webhook: names no job or order: expected JobNo or OrderNo"),
        (body({"JobNo": "J1"}), "webhook.Status: missing (and no tracking number)"),
        (body({"JobNo": ["J1"], "Status": "40"}), "webhook.JobNo: expected text, got a list"),
        (body({"JobNo": "J1", "Status": True}), "webhook.Status: expected text, got bool"),
        (
            body({"JobNo": "J1", "Status": "x", "TrackingNumbers": [{"n": 1}]}),
            "webhook.TrackingNumbers[0]: expected text, got an object",
        ),
        (
            body({"JobNo": "J1", "Status": "x", "DespatchDate": "yesterday"}),
            "webhook.DespatchDate: 'yesterday' is not an ISO 8601 date-time",
        ),
        (body({"JobNo": "J" * 201, "Status": "x"}), "webhook.JobNo: longer than 200 characters"),
        (b"[" * 200 + b"]" * 200, "webhook: body is not JSON: nested too deeply"),
    ],
)
def test_an_unparseable_body_names_what_is_wrong(raw: bytes, message: str) -> None:
    # issue 14: "an unparseable delivery is kept and shown": the reason must say what is missing
    with pytest.raises(PayloadError) as caught:
        parse_body(raw)
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_missing_events_list() -> None:
    fields, _ = parse_field_map({"events": "Items"})
    with pytest.raises(PayloadError, match=r"webhook.Items: missing \(expected a list of events\)"):
        parse_body(body({"JobNo": "J1", "Status": "x"}), fields)


@pytest.mark.parametrize(
    ("value", "key", "words"),
    [
        ("JobNo", "webhook_fields", "expected a table"),
        ({"jobno": "JobNo"}, "webhook_fields.jobno", "unknown field (known: events, event_id"),
        ({"status": ""}, "webhook_fields.status", "expected a path"),
        ({"tracking": "A[]"}, "webhook_fields.tracking", "a field path reads"),
    ],
)
def test_field_map_problems(value: object, key: str, words: str) -> None:
    problems = field_map_problems(value)
    assert any(k == key and words in m for k, m in problems), problems


def test_a_polled_job_is_read_with_the_same_parser() -> None:
    # issue 14: "Poll fallback (jobs?jobNo=...)": the poll answer's item, same field names
    line = parse_event({"JobNo": "J9", "Status": "Despatched", "ConsignNote": "CN1"}, where="job")
    refs = [ItemRef(1, "J9"), ItemRef(2, "J8"), ItemRef(3, "J9")]
    assert status_reports([LineStatus("J9", "40"), line], refs) == [
        StatusReport(1, "Despatched", ("CN1",)),
        StatusReport(3, "Despatched", ("CN1",)),
    ]
