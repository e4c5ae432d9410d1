"""The real daemon's operator socket under hostile or careless clients, and orders whose only
events are poisoned (issue 12, "Reliability")."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon.errors import NotFound
from tests.daemon_process import ROOT, DaemonProcess, wait_until
from tests.helpers import config_text

pytestmark = pytest.mark.slow

#: the daemon's connection limit (OperatorServer's max_connections, not configurable)
MAX_CONNECTIONS = 64


def start_daemon(tmp_path: Path, daemon_extra: str = "") -> tuple[DaemonProcess, Path]:
    text = config_text(tmp_path)
    if daemon_extra:
        text = text.replace("drain_seconds = 5\n", f"drain_seconds = 5\n{daemon_extra}\n", 1)
    config = tmp_path / "esd.toml"
    config.write_text(text)
    daemon = DaemonProcess(config, tmp_path)
    daemon.start()
    return daemon, tmp_path / "esd.sock"


@pytest.fixture
def daemon_and_sock(tmp_path: Path) -> Iterator[tuple[DaemonProcess, Path]]:
    daemon, sock = start_daemon(tmp_path)
    try:
        yield daemon, sock
    finally:
        daemon.close()


class Line:
    """A blocking raw client: send bytes, read answer lines."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(str(path))
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self) -> dict[str, Any]:
        while b"\n" not in self.buffer:
            data = self.sock.recv(65536)
            assert data, f"end of stream, buffered {self.buffer!r}"
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        value: dict[str, Any] = json.loads(line.decode("utf-8"))
        return value

    def ask(self, data: bytes) -> dict[str, Any]:
        self.send(data)
        return self.answer()

    def closed_by_daemon(self) -> bool:
        """True once the daemon closed this connection (end of stream or reset)."""
        # Not recv(MSG_DONTWAIT): with a timeout set, Python waits for readability first.
        readable, _, _ = select.select([self.sock], [], [], 0)
        if not readable:
            return False
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        assert not data, f"unexpected bytes {data!r}"
        return True

    def close(self) -> None:
        self.sock.close()


def request(request_id: int | str, cmd: str, args: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"v": 1, "id": request_id, "cmd": cmd, "args": args or {}}).encode() + b"\n"


# --- 1: a line no client can kill the daemon with ------------------------------------------------


def test_lone_surrogates_get_a_protocol_error_and_the_daemon_lives_on(
    daemon_and_sock: tuple[DaemonProcess, Path],
) -> None:
    daemon, sock = daemon_and_sock
    conn = Line(sock)
    try:
        # The exact line of the report: json.loads turns \ud800 into a lone surrogate.
        answer = conn.ask(b'{"v":1,"id":"\\ud800","cmd":"ping"}\n')
        assert answer["ok"] is False
        assert answer["id"] is None, "an id that cannot be encoded is not echoed"
        assert answer["error"]["type"] == "OperatorProtocolError"
        assert answer["error"]["message"] == (
            'line 1: "id" is not valid Unicode text (a lone surrogate at position 0)'
        )
        for line_no, (line, where) in enumerate(
            [
                (b'{"v":1,"id":2,"cmd":"pi\\udc00ng"}\n', '"cmd"'),
                (b'{"v":1,"id":3,"cmd":"order","args":{"\\ud800":"1001"}}\n', 'a key in "args"'),
                (b'{"v":1,"id":4,"cmd":"order","args":{"order":"10\\udfff"}}\n', '"args"["order"]'),
                (
                    b'{"v":1,"id":5,"cmd":"submit","args":{"payload":{"items":[{"n":"\\ud83d"}]}}}\n',
                    '"args"["payload"]["items"][0]["n"]',
                ),
                (b'{"v":1,"id":6,"\\udbff":1}\n', "a key"),
            ],
            start=2,
        ):
            answer = conn.ask(line)
            assert (answer["ok"], answer["id"]) == (False, line_no), answer
            assert answer["error"]["type"] == "OperatorProtocolError", answer
            assert answer["error"]["message"].startswith(f"line {line_no}: {where} is"), answer
        # A valid surrogate pair is text like any other; the same connection still answers.
        answer = conn.ask(b'{"v":1,"id":"\\ud83d\\ude00","cmd":"ping"}\n')
        assert answer == {"v": 1, "id": "\U0001f600", "ok": True, "result": {"pong": True}}
    finally:
        conn.close()
    assert daemon.proc is not None and daemon.proc.poll() is None, daemon.log_text()
    assert daemon.call(sock, "ping") == {"pong": True}
    assert "operator.connection_crashed" not in daemon.log_text()


# --- 2: idle clients cannot lock the operators out ---------------------------------------------


def test_status_answers_with_every_slot_held_and_idle_clients_are_closed(
    tmp_path: Path,
) -> None:
    daemon, sock = start_daemon(tmp_path, "operator_idle_seconds = 8")
    idle: list[Line] = []
    try:
        for n in range(MAX_CONNECTIONS):
            client = Line(sock)
            idle.append(client)
            # Answered: the daemon has taken this connection into a slot.
            assert client.ask(request(n, "ping"))["result"] == {"pong": True}
        # Every ordinary slot is held: a 65th connection answers status and ping only.
        looker = Line(sock)
        try:
            status = looker.ask(request("s", "status"))
            assert status["ok"] is True, status
            assert daemon.proc is not None and status["result"]["pid"] == daemon.proc.pid
            assert looker.ask(request("p", "ping"))["result"] == {"pong": True}
            refused = looker.ask(request("e", "events"))
            assert refused["error"]["type"] == "OperatorError"
            assert "kept for status and ping only" in refused["error"]["message"]
            # The reserved slot is one, and the newest connection takes it from an idle
            # holder: clients parking there, however many, never keep `status` out.
            parked = [Line(sock) for _ in range(20)]
            try:
                wait_until(looker.closed_by_daemon, 30, "the idle reserved holder evicted")
                latest = Line(sock)
                try:
                    assert latest.ask(request("s2", "status"))["ok"] is True
                finally:
                    latest.close()
                assert all(client.closed_by_daemon() for client in parked)
            finally:
                for client in parked:
                    client.close()
        finally:
            looker.close()
        # All of that happened while the idle clients still held their slots.
        assert not any(client.closed_by_daemon() for client in idle)

        # A client trickling bytes that never make a line is idle too.
        trickler = idle[0]

        def all_closed() -> bool:
            if not trickler.closed_by_daemon():
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    trickler.send(b" ")
            return all(client.closed_by_daemon() for client in idle)

        wait_until(all_closed, 60, "the daemon to close every idle operator connection")
        # The slots are free again for any command.
        assert daemon.call(sock, "events") == {"events": []}
        assert "operator.client_idle" in daemon.log_text()
    finally:
        for client in idle:
            client.close()
        daemon.close()


# --- 3: an order known only from poisoned events -----------------------------------------------


def esd(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--socket", str(sock), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_order_and_why_show_an_order_whose_only_events_are_poisoned(
    daemon_and_sock: tuple[DaemonProcess, Path],
) -> None:
    daemon, sock = daemon_and_sock
    bad_order = {"site": "shop", "order_number": "5001", "items": "not a list"}
    stored = daemon.call(
        sock,
        "submit",
        {
            "source": "storefront:shop",
            "dedupe_key": "5001-v1",
            "kind": "order.snapshot",
            "payload": {"order": bad_order},
        },
    )
    event_id = stored["id"]

    def poisoned() -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = daemon.call(sock, "events", {"status": "poisoned"})["events"]
        return events

    (event,) = wait_until(poisoned, 30, "the bad snapshot to be poisoned")
    assert event["id"] == event_id and event["error"]

    detail = daemon.call(sock, "order", {"order": "5001"})
    assert (detail["site"], detail["order"], detail["stored"]) == ("shop", "5001", False)
    assert detail["items"] == [] and detail["trace"] == []
    assert [(e["id"], e["kind"], e["status"], e["error"]) for e in detail["events"]] == [
        (event_id, "order.snapshot", "poisoned", event["error"])
    ]
    # With the site given, too.
    assert daemon.call(sock, "order", {"order": "5001", "site": "shop"})["events"]

    why = daemon.call(sock, "why", {"order": "5001"})
    assert (why["site"], why["order"], why["stored"]) == ("shop", "5001", False)
    assert [(e["id"], e["kind"], e["error"]) for e in why["poisoned"]] == [
        (event_id, "order.snapshot", event["error"])
    ]

    # The tables name the order and say which event failed, and why.
    note = f"event {event_id} (order.snapshot) poisoned: "
    for cmd in ("order", "why"):
        run = esd(sock, cmd, "5001")
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("order 5001 on shop"), run.stdout
        assert note in run.stdout, run.stdout
        assert event["error"].split(":")[0] in run.stdout.split(note, 1)[1]
    as_json = esd(sock, "why", "5001", "--json")
    assert json.loads(as_json.stdout)["poisoned"][0]["error"] == event["error"]

    # An order nobody ever mentioned is still not found.
    missing = esd(sock, "order", "5002")
    assert missing.returncode == 1
    assert "NotFound: no order 5002" in missing.stderr
    with pytest.raises(NotFound, match="no order 5002 on site shop"):
        daemon.call(sock, "why", {"order": "5002", "site": "shop"})
