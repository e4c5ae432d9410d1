"""`WebhookApp` driven as an ASGI app (sans socket): bodies in pieces, the 200's exact bytes, and
the per-request log line only when its level is on. Over a real socket: test_webhook_intake."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon import logs
from daemon.config import Config, parse_config
from daemon.intake import webhook_app
from daemon.intake.webhook_app import WebhookApp
from daemon.store.inbox import NewEvent, Stored
from tests.helpers import config_text
from tests.intake_server import envelope, signed

KEY = "site-Key-7f3a"
URL = "/webhooks/pressero/shop"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    text = config_text(tmp_path).replace(
        '[sites.shop]\nname = "Print Shop"\n',
        f'[sites.shop]\nname = "Print Shop"\nsecurity_key = "{KEY}"\n',
    )
    return parse_config(text, environ={})


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    yield stream
    logs.reset_logging()


class Ingest:
    """A store that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[NewEvent] = []

    async def __call__(self, event: NewEvent) -> Stored:
        self.events.append(event)
        return Stored(id=len(self.events), duplicate=False)


def call(
    app: WebhookApp, headers: Mapping[str, str], pieces: list[bytes], *, disconnect: bool = False
) -> tuple[int | None, bytes]:
    """POST `pieces` (one ASGI message each) to the app; its status and body (None: no answer)."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": piece, "more_body": n < len(pieces) - 1 or disconnect}
        for n, piece in enumerate(pieces)
    ]
    if disconnect:
        messages.append({"type": "http.disconnect"})
    sent: list[Mapping[str, Any]] = []

    async def receive() -> Mapping[str, Any]:
        return messages.pop(0)

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": URL,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    anyio.run(app, scope, receive, send)
    if not sent:
        return None, b""
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    return int(sent[0]["status"]), bytes(sent[1]["body"])


def test_a_body_in_pieces_is_judged_and_stored_whole(config: Config) -> None:
    ingest = Ingest()
    app = WebhookApp(config, ingest, max_body_bytes=4096)
    body = envelope("OrderItemApproved", 7001, seq=1, message_id="p-1")
    status, answer = call(app, signed(KEY, body), [body[:10], body[10:50], body[50:]])
    assert status == 200 and json.loads(answer) == {"ok": True, "event": 1, "duplicate": False}
    assert [e.payload["body"] for e in ingest.events] == [body.decode()]


def test_pieces_over_the_limit_are_refused_without_reading_on(config: Config) -> None:
    ingest = Ingest()
    app = WebhookApp(config, ingest, max_body_bytes=100)
    status, answer = call(app, {"MessageHash": "x"}, [b"y" * 60, b"y" * 60, b"y" * 60])
    assert status == 413 and json.loads(answer)["ok"] is False
    assert ingest.events == [] and app.rejections["too_large"] == 1


def test_a_sender_gone_before_the_body_is_whole_gets_nothing_stored(config: Config) -> None:
    ingest = Ingest()
    app = WebhookApp(config, ingest, max_body_bytes=4096)
    body = envelope("OrderPlaced", 7002, message_id="p-2")
    status, _ = call(app, signed(KEY, body), [body[:20]], disconnect=True)
    assert status is None and ingest.events == []


@given(event_id=st.integers(min_value=1, max_value=2**63 - 1), duplicate=st.booleans())
def test_the_stored_answer_is_byte_for_byte_what_the_json_answer_would_be(
    event_id: int, duplicate: bool
) -> None:
    sent: list[Mapping[str, Any]] = []

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)

    body = {"ok": True, "event": event_id, "duplicate": duplicate}
    anyio.run(webhook_app._answer, send, 200, body)
    assert list(webhook_app._stored_answer(Stored(event_id, duplicate))) == sent


@pytest.mark.parametrize(("level", "logged"), [("debug", True), ("info", False)])
def test_the_stored_line_is_written_at_debug_only(
    config: Config, log_stream: io.StringIO, level: str, logged: bool
) -> None:
    logs.configure_logging(level, stream=log_stream)
    app = WebhookApp(config, Ingest(), max_body_bytes=4096)
    body = envelope("OrderPlaced", 7003, message_id="p-3")
    assert call(app, signed(KEY, body), [body])[0] == 200
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    stored = [line for line in lines if line["event"] == "webhook.stored"]
    assert len(stored) == (1 if logged else 0)
    if logged:
        assert (stored[0]["order"], stored[0]["event_id"]) == ("7003", 1)


def test_enabled_follows_the_configured_level(log_stream: io.StringIO) -> None:
    logs.reset_logging()
    assert logs.enabled("debug"), "unconfigured structlog logs every level"
    logs.configure_logging("warning", stream=log_stream)
    assert [logs.enabled(level) for level in logs.LEVELS] == [False, False, True, True, True]
    logs.configure_logging("debug", stream=log_stream)
    assert all(logs.enabled(level) for level in logs.LEVELS)
    logs.configure_logging("error", stream=log_stream)
    logs.reset_logging()
    assert logs.enabled("debug")
