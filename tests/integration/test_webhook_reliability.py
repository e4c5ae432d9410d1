"""Webhooks the real daemon must take without a poisoned event or a 500: types esd does not act
on, and bodies nested too deeply for a recursive parser."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import config_text
from tests.intake_server import envelope, signed

KEY = "site-Key-91c2"
URL = "/webhooks/pressero/shop"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DaemonProcess, str]]:
    tmp = tmp_path_factory.mktemp("reliability")
    config = tmp / "esd.toml"
    config.write_text(config_text(tmp, site_extra=f'security_key = "{KEY}"\n'))
    process = DaemonProcess(config, tmp)
    try:
        process.start()
        port = process.call(tmp / "esd.sock", "status")["webhooks"]["port"]
        yield process, f"http://127.0.0.1:{port}"
        assert process.terminate() == 0
    finally:
        process.close()


def events(process: DaemonProcess) -> list[dict[str, Any]]:
    with sqlite3.connect(process.workdir / "esd.sqlite3") as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM events ORDER BY id")]


def log_lines(process: DaemonProcess) -> list[dict[str, Any]]:
    lines = []
    for line in process.log_text().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue  # not a log line (a crash would show here as text)
    return lines


def test_a_webhook_type_esd_does_not_act_on_is_stored_answered_done_and_logged(
    daemon: tuple[DaemonProcess, str],
) -> None:
    process, url = daemon
    body = envelope("UserRegistered", 7001, message_id="m-user-1")
    answer = httpx.post(url + URL, content=body, headers=signed(KEY, body), timeout=10)
    assert answer.status_code == 200, answer.text
    event_id = answer.json()["event"]

    def processed() -> dict[str, Any] | None:
        row = next(e for e in events(process) if e["id"] == event_id)
        return row if row["status"] != "pending" else None

    row = wait_until(processed, 30, "the UserRegistered event processed")
    assert (row["status"], row["error"]) == ("done", None), row["error"]
    logged = wait_until(
        lambda: [
            line
            for line in log_lines(process)
            if line.get("event") == "webhook.unknown_type" and line.get("event_id") == event_id
        ],
        30,
        "webhook.unknown_type logged",
    )
    assert logged[0]["type"] == "UserRegistered" and logged[0]["site"] == "shop"
    assert not [line for line in log_lines(process) if line.get("event") == "event.poisoned"]


@pytest.mark.parametrize(
    "nest",
    [lambda n: "[" * n + "]" * n, lambda n: '{"a":' * n + "1" + "}" * n],
    ids=["arrays", "objects"],
)
def test_a_signed_body_nested_too_deeply_is_a_400_and_nothing_is_stored(
    daemon: tuple[DaemonProcess, str], nest: Any
) -> None:
    process, url = daemon
    data = json.loads(envelope("OrderPlaced", 7002, message_id="m-deep"))
    text = json.dumps(data)[:-1] + ', "Extra": ' + nest(5000) + "}"
    body = text.encode()
    before = len(events(process))
    answer = httpx.post(url + URL, content=body, headers=signed(KEY, body), timeout=10)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith("webhook: body is nested too deeply (more than 100")
    assert len(events(process)) == before
    status = process.call(process.workdir / "esd.sock", "status")
    assert status["webhooks"]["rejections"].get("malformed", 0) >= 1


def test_a_body_just_within_the_depth_limit_is_stored(daemon: tuple[DaemonProcess, str]) -> None:
    process, url = daemon
    text = envelope("SomethingNew", 7003, message_id="m-deep-ok").decode()
    body = (text[:-1] + ', "Extra": ' + "[" * 99 + "]" * 99 + "}").encode()
    answer = httpx.post(url + URL, content=body, headers=signed(KEY, body), timeout=10)
    assert answer.status_code == 200, answer.text
    assert any(e["dedupe_key"] == "m-deep-ok" for e in events(process))
