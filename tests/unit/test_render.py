"""Tables for people: every command's result shape renders readably, whatever the data holds."""

from __future__ import annotations

from typing import Any

import pytest

from daemon.operator.protocol import COMMANDS
from daemon.operator.render import cell, duration, render, render_progress, table, when
from tests.operator_samples import ORDER_EVENTS, ORDER_TRACE

STATUS: dict[str, Any] = {
    "version": "0.1.0",
    "pid": 4242,
    "started_at": "2025-05-01T08:00:00+00:00",
    "uptime_seconds": 93784.5,
    "accounts": {
        "pace-main": {
            "provider": "pace",
            "environment": "live",
            "states": {"pushed": 120, "failed": 2},
            "actor": {
                "health": "running",
                "restarts": 0,
                "last_error": None,
                "in_flight": 1,
                "queued": 3,
            },
        },
        "pw": {
            "provider": "presswise",
            "environment": "test",
            "states": {},
            "actor": {
                "health": "restarting",
                "restarts": 4,
                "last_error": "connection refused",
                "in_flight": 0,
                "queued": 0,
            },
        },
    },
    "inbox": {"pending": 2, "poisoned": 1, "total": 5000},
    "next_timer": {"due_at": "2025-05-01T09:00:00+00:00", "kind": "retry", "subject": "1001/1"},
    "rejections": {"unpaid": 3},
}

ORDER: dict[str, Any] = {
    "site": "shop.example.com",
    "order": "1001",
    "items": [
        {
            "seq": 1,
            "account": "pace-main",
            "state": "pushed",
            "external_id": "J-77",
            "order_external_id": "O-5",
            "last_error": None,
            "reasons": [],
            "mis_status": "in press",
            "tracking": ["1Z999", "1Z998"],
            "attempts": 1,
            "next_retry_at": None,
            "updated_at": "2025-05-01T08:10:00+00:00",
        },
        {
            "seq": 2,
            "account": "pace-main",
            "state": "held",
            "external_id": None,
            "order_external_id": None,
            "last_error": "customer not found",
            "reasons": ["awaiting approval"],
            "mis_status": None,
            "tracking": [],
            "attempts": 3,
            "next_retry_at": "2025-05-01T09:00:00+00:00",
            "updated_at": "2025-05-01T08:11:00+00:00",
        },
    ],
    "trace": ORDER_TRACE,
    "events": ORDER_EVENTS,
}


def lines_of(text: str) -> list[str]:
    return text.splitlines()


def test_table_aligns_columns_and_has_no_trailing_blanks() -> None:
    text = table(["id", "name"], [[1, "alpha"], [100, None]])
    assert lines_of(text) == ["ID   NAME", "1    alpha", "100  -"]


def test_empty_table_says_none() -> None:
    assert lines_of(table(["a", "b"], [])) == ["A  B", "(none)"]


def test_table_truncates_limited_columns() -> None:
    text = table(["x"], [["abcdefghij"]], limits={0: 5})
    assert lines_of(text)[1] == "abcd…"


def test_wide_characters_keep_columns_aligned() -> None:
    text = table(["name", "n"], [["日本", 1], ["abcd", 2]])
    first, second = lines_of(text)[1:]
    # "日本" is 4 terminal columns wide, like "abcd": the next column starts at the same place.
    assert first == "日本  1"
    assert second == "abcd  2"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "-"),
        ("", "-"),
        ([], "-"),
        (True, "yes"),
        (False, "no"),
        (0, "0"),
        (1.5, "1.5"),
        (["a", "b"], "a, b"),
        ("line1\nline2", "line1 line2"),
        ("\x1b[31mred\x1b[0m", " [31mred [0m"),
        ("a\u202eb", "a b"),
    ],
)
def test_cell(value: Any, expected: str) -> None:
    assert cell(value) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (59.9, "59s"),
        (61, "1m 1s"),
        (3600 * 2 + 300, "2h 5m"),
        (93784.5, "1d 2h"),
        (-3, "0s"),
    ],
)
def test_duration(seconds: float, expected: str) -> None:
    assert duration(seconds) == expected


def test_status() -> None:
    text = render("status", STATUS)
    lines = lines_of(text)
    assert lines[0] == "esd 0.1.0, pid 4242, up 1d 2h (started 2025-05-01 08:00:00Z)"
    header = next(line for line in lines if line.startswith("ACCOUNT"))
    assert header.split() == [
        "ACCOUNT",
        "PROVIDER",
        "ENVIRONMENT",
        "HEALTH",
        "RESTARTS",
        "IN",
        "FLIGHT",
        "QUEUED",
        "ITEMS",
    ]
    assert any(
        row.split()[:7] == ["pace-main", "pace", "live", "running", "0", "1", "3"] for row in lines
    )
    assert any(row.split()[:3] == ["pw", "presswise", "test"] for row in lines)
    assert "pushed 120, failed 2" in text
    assert "  pw: connection refused" in lines
    assert "inbox: 2 pending, 1 poisoned, 5000 total" in lines
    assert "next timer: 2025-05-01 09:00:00Z retry 1001/1" in lines
    assert "rejections: unpaid 3" in lines


def test_status_without_timer_or_rejections() -> None:
    text = render("status", {**STATUS, "next_timer": None, "rejections": {}})
    assert "next timer: none" in text
    assert "rejections: none" in text


def test_order_shows_items_then_trace_then_events() -> None:
    text = render("order", ORDER)
    lines = lines_of(text)
    assert lines[0] == "order 1001 on shop.example.com"
    items_at = next(i for i, row in enumerate(lines) if row.startswith("SEQ  ACCOUNT"))
    trace_at = lines.index("trace")
    events_at = lines.index("events")
    assert items_at < trace_at < events_at
    assert lines[items_at + 1].split()[:6] == ["1", "pace-main", "pushed", "J-77", "O-5", "in"]
    assert "1Z999, 1Z998" in lines[items_at + 1]
    assert "item 2: last error: customer not found" in lines
    assert "item 2: awaiting approval" in lines
    assert lines[trace_at + 2].split() == [
        "2025-05-01",
        "08:05:00Z",
        "1",
        "pace-main",
        "ready",
        "pushed",
        "push_ok",
        "17",
        "-",
    ]
    assert lines[events_at + 2].split() == [
        "17",
        "pressero",
        "order.snapshot",
        "done",
        "2025-05-01",
        "08:00:00Z",
    ]


def test_why() -> None:
    result = {
        "site": "s",
        "order": "1001",
        "items": [
            {
                "seq": 1,
                "account": "pace",
                "state": "held",
                "reasons": ["unpaid", "awaiting approval"],
            },
            {"seq": 2, "account": "pace", "state": "pushed", "reasons": []},
        ],
    }
    assert lines_of(render("why", result)) == [
        "order 1001 on s",
        "item 1 (pace): held",
        "  - unpaid",
        "  - awaiting approval",
        "item 2 (pace): pushed",
        "  (no reason recorded)",
    ]


def test_list_counts_shown_of_total() -> None:
    result = {
        "items": [
            {
                "site": "s",
                "order": "1001",
                "seq": 1,
                "account": "pace",
                "state": "failed",
                "updated_at": "t",
                "last_error": "x" * 200,
            }
        ],
        "total": 7,
    }
    lines = lines_of(render("list", result))
    assert lines[0].split() == [
        "SITE",
        "ORDER",
        "SEQ",
        "ACCOUNT",
        "STATE",
        "UPDATED",
        "LAST",
        "ERROR",
    ]
    assert lines[1].endswith("x" * 59 + "…")
    assert lines[-1] == "1 of 7 shown"


def test_push_events_event_replay_submit_ping() -> None:
    push = {"items": [{"seq": 1, "account": "pace", "from": "ready", "to": "pushing"}]}
    assert lines_of(render("push", push))[1].split() == ["1", "pace", "ready", "pushing"]
    assert render("push", {"items": []}) == "nothing was pushed"

    events = {
        "events": [
            {
                "id": 9,
                "source": "pressero",
                "kind": "order.snapshot",
                "dedupe_key": "k1",
                "status": "poisoned",
                "received_at": "t",
                "error": "BadEventPayload: no items",
                "attempts": 3,
            }
        ]
    }
    row = lines_of(render("events", events))[1]
    assert row.split()[:7] == ["9", "pressero", "order.snapshot", "poisoned", "3", "t", "k1"]
    assert row.endswith("BadEventPayload: no items")

    event = {**events["events"][0], "payload": {"order": "1001"}, "traceback": "Traceback\n  boom"}
    text = render("event", event)
    assert "status:       poisoned" in text
    assert "processed at: -" in text
    assert '  "order": "1001"' in text
    assert text.endswith("traceback:\nTraceback\n  boom")

    assert render("replay", {"id": 9, "status": "pending"}) == "event 9: pending"
    assert render("replay", {"id": 9, "status": "poisoned", "error": "still bad"}) == (
        "event 9: poisoned (still bad)"
    )
    assert render("sync", {"accounts": ["pace", "pw"]}) == "status poll asked of: pace, pw"
    assert (
        render(
            "import",
            {"batch": 4, "state": "failed", "pages": 2, "records": 50, "last_error": "boom"},
        )
        == "import batch 4: failed, 2 pages, 50 records\nlast error: boom"
    )
    assert render("submit", {"id": 10, "duplicate": False}) == "event 10 queued"
    assert render("submit", {"id": 10, "duplicate": True}) == (
        "event 10 was already in the inbox (duplicate)"
    )
    assert render("ping", {"pong": True}) == "pong"


@pytest.mark.parametrize("cmd", [*COMMANDS])
def test_missing_keys_render_without_failing(cmd: str) -> None:
    assert isinstance(render(cmd, {}), str)


def test_unknown_command_renders_as_json() -> None:
    assert render("future", {"a": [1]}) == '{\n  "a": [\n    1\n  ]\n}'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-05-01T08:05:00.123456+00:00", "2025-05-01 08:05:00Z"),
        ("2025-05-01T08:05:00+02:00", "2025-05-01 08:05:00+0200"),
        ("2025-05-01T08:05:00", "2025-05-01 08:05:00"),
        ("soon", "soon"),
        (None, None),
    ],
)
def test_when_shortens_timestamps(value: Any, expected: Any) -> None:
    assert when(value) == expected


def test_progress() -> None:
    assert render_progress({"message": "pushing item 1\x1b"}) == "pushing item 1 "
    assert render_progress({"step": 2}) == '{"step":2}'


def test_status_shows_webhooks_storefronts_and_alerts() -> None:
    text = render(
        "status",
        {
            **STATUS,
            "webhooks": {"port": 8780, "accepted": 12, "duplicates": 2, "rejections": {}},
            "storefronts": {"pressero": {"health": "running", "restarts": 0}},
            "alerts": {"total": 3, "mail_sent": 2, "mail_pending": 1},
        },
    )
    lines = lines_of(text)
    assert "webhooks: port 8780, 12 stored, 2 duplicates" in lines
    assert "storefronts: pressero running" in lines
    assert "alerts: 3 (e-mail: sent 2, pending 1)" in lines


def test_test_connection_shows_each_environment_labelled() -> None:
    def entry(in_use: bool, ok: bool | None, detail: str, configured: bool = True) -> Any:
        return {
            "in_use": in_use,
            "configured": configured,
            "ok": ok,
            "detail": detail,
            "server_version": "1.0" if ok else "",
        }

    result = {
        "accounts": {
            "thar": {
                "ok": True,
                "detail": "test server answered",
                "server_version": "1.0",
                "environment": "test",
                "environments": {
                    "test": entry(True, True, "test server answered"),
                    "live": entry(False, False, "ConnectError: refused"),
                },
            },
            "pace": {
                "ok": True,
                "detail": "pace answered",
                "server_version": "1.0",
                "environment": "live",
                "environments": {
                    "live": entry(True, True, "pace answered"),
                    "test": entry(False, None, "not configured", configured=False),
                },
            },
            # an answer from a daemon that reported no environments
            "old": {"ok": False, "detail": "503", "server_version": ""},
        }
    }
    rows = [line.split() for line in lines_of(render("test-connection", result))]
    assert rows[0] == ["ACCOUNT", "ENVIRONMENT", "RESULT", "VERSION", "DETAIL"]
    assert ["thar", "test", "(in", "use)", "ok", "1.0", "test", "server", "answered"] in rows
    assert ["thar", "live", "(other)", "FAILED", "-", "ConnectError:", "refused"] in rows
    assert ["pace", "test", "(other)", "not", "configured", "-", "-"] in rows
    assert ["old", "-", "FAILED", "-", "503"] in rows
