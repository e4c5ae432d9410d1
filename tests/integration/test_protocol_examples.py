"""Every example request in docs/operator-protocol.md ("## Commands") is sent to the real daemon,
and its answer has the documented shape: ok or error type, result keys, progress lines."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon.providers.reference.sandbox import ReferenceSandbox
from daemon.storefronts.pressero.sandbox import DEFAULT_SITES, PresseroSandbox
from tests.daemon_process import ROOT, DaemonProcess, wait_until
from tests.helpers import config_text

pytestmark = pytest.mark.slow

DOC = ROOT / "docs" / "operator-protocol.md"
SITE = DEFAULT_SITES[0]


def examples() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(request, documented answers) of each json block of the Commands section."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("\n## Commands") : text.index("\n## By hand")]
    found: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    decoder = json.JSONDecoder()
    for block in re.findall(r"```json\n(.*?)```", section, flags=re.S):
        values, at = [], 0
        while at < len(block.strip()):
            value, end = decoder.raw_decode(block, at)
            values.append(value)
            at = end
            while at < len(block) and block[at].isspace():
                at += 1
        request: dict[str, Any] | None = None
        for value in values:
            if "cmd" in value:
                request = value
                found.append((request, []))
            elif request is not None:
                found[-1][1].append(value)
    return found


def ask(path: Path, request: dict[str, Any]) -> list[dict[str, Any]]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(60)
        conn.connect(str(path))
        conn.sendall(json.dumps(request).encode() + b"\n")
        answers: list[dict[str, Any]] = []
        buffer = b""
        while not answers or "ok" not in answers[-1]:
            while b"\n" not in buffer:
                data = conn.recv(65536)
                assert data, f"the daemon closed the connection: {answers}"
                buffer += data
            line, buffer = buffer.split(b"\n", 1)
            answers.append(json.loads(line))
        return answers


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[DaemonProcess, Path]]:
    mis = ReferenceSandbox(login="esd", password="s3cret-pw")
    mis.start()
    pressero = PresseroSandbox(password="pw-storefront")
    pressero.start()
    config = tmp_path / "esd.toml"
    config.write_text(
        config_text(
            tmp_path,
            accounts={"pace-main": {"url": mis.url}, "tharstern": {"url": mis.url}},
            site_accounts=[("pace-main", True, True)],
            site_extra=(
                f'storefront = "pressero-main"\nsite_id = "{SITE.site_id}"\n'
                f'security_key = "{SITE.security_key}"\n'
            ),
            extra=(
                f'[storefronts.pressero-main]\nprovider = "pressero"\nurl = "{pressero.url}"\n'
                "[storefronts.pressero-main.credentials]\n"
                f'username = "{pressero.username}"\npassword = "pw-storefront"\n'
                f'subscriber_id = "{pressero.subscriber_id}"\n'
            ),
        )
    )
    process = DaemonProcess(config, tmp_path)
    try:
        process.start()
        yield process, tmp_path / "esd.sock"
    finally:
        process.close()
        pressero.stop()
        mis.stop()


def test_every_documented_example_is_answered_as_documented(
    daemon: tuple[DaemonProcess, Path],
) -> None:
    process, sock = daemon
    cases = examples()
    assert {r["cmd"] for r, _ in cases} >= {
        "ping", "status", "order", "why", "list", "push", "events", "event", "replay",
        "sync", "test-connection", "poll", "import", "submit",
    }  # fmt: skip
    # The submit example goes first: the order it stores is the one the others ask about.
    cases.sort(key=lambda case: case[0]["cmd"] != "submit")
    snapshot_id: int | None = None
    for request, documented in cases:
        if request["cmd"] in ("event", "replay"):
            assert snapshot_id is not None
            request = {**request, "args": {"id": snapshot_id}}
        answers = ask(sock, request)
        final, progress = answers[-1], answers[:-1]
        expected = documented[-1]
        where = f"{request['cmd']} example {json.dumps(request)[:80]}: {final}"
        assert final["id"] == request["id"], where
        assert final["ok"] == expected["ok"], where
        if expected["ok"]:
            assert set(expected["result"]) <= set(final["result"]), where
        else:
            assert final["error"]["type"] == expected["error"]["type"], where
            assert final["error"]["message"] == expected["error"]["message"], where
        if any("progress" in a for a in documented):
            assert progress, f"{where}: no progress lines"
        if request["cmd"] == "submit":
            snapshot_id = final["result"]["id"]

            def processed(event_id: int = snapshot_id) -> Any:
                event = process.call(sock, "event", {"id": event_id})
                return event if event["status"] != "pending" else None

            event = wait_until(processed, 30, "the submitted example processed")
            assert event["status"] == "done", f"the submit example is rejected: {event['error']}"
            wait_until(
                lambda: (
                    process.call(sock, "order", {"order": "1001"})["items"][0]["state"] == "pushed"
                ),
                30,
                "the submitted order pushed",
            )
