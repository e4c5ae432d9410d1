"""`make sandbox`: the session drives the storefront and the MIS's fault knobs from its command
line while the real daemon runs, and the operator CLI works against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO

import pytest

from daemon.errors import NotFound
from daemon.operator.client import call_sync
from tests.daemon_process import ROOT, wait_until

pytestmark = pytest.mark.slow


def _answer(out: IO[str]) -> str:
    """The next line that is not the prompt echo."""
    while True:
        line = out.readline()
        assert line, "the session ended"
        line = line.removeprefix("sandbox> ").strip()
        if line:
            return line


def test_sandbox_session_drives_faults_and_orders(tmp_path: Path) -> None:
    session = subprocess.Popen(
        [sys.executable, "-m", "daemon.testing.sandbox_session", "--dir", str(tmp_path / "sbx")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    assert session.stdin is not None and session.stdout is not None
    try:
        first = json.loads(session.stdout.readline())
        sock = Path(first["socket"])
        while "Ctrl-C ends" not in session.stdout.readline():  # sample orders, instructions
            pass
        wait_until(lambda: len(call_sync(sock, "list", {})["items"]) == 5, 30, "sample orders")

        def say(line: str) -> str:
            assert session.stdin is not None and session.stdout is not None
            session.stdin.write(line + "\n")
            session.stdin.flush()
            return _answer(session.stdout)

        # Pace fails every call: a new order's item goes to retrying, not pushed.
        assert '"error_rate": 1.0' in say("fault pace error_rate=1.0")
        number = say("order").removeprefix("placed order ")

        def state() -> str | None:
            try:
                items = call_sync(sock, "order", {"order": number})["items"]
            except NotFound:  # its webhook not stored yet
                return None
            return str(items[0]["state"]) if items else None

        wait_until(lambda: state() == "retrying", 30, "the push retried after Pace's 503")
        assert say("fault pace error_rate=0").startswith("pace faults:")
        wait_until(lambda: state() == "pushed", 60, "pushed once Pace answers again")
        # Typos are answers, not crashes.
        assert say("fault pace nope=1").startswith("error: fault: faults.nope: unknown knob")
        assert say("frobnicate").startswith("error: unknown command 'frobnicate'")
        # The storefront side: the held order is paid from the prompt and then pushed.
        assert say("pay 1003") == "order 1003: paid"
        wait_until(
            lambda: call_sync(sock, "order", {"order": "1003"})["items"][0]["state"] == "pushed",
            60,
            "the paid order pushed",
        )
        session.stdin.write("quit\n")
        session.stdin.flush()
        assert session.wait(60) == 0
        assert not sock.exists(), "the daemon stopped cleanly with the session"
    finally:
        if session.poll() is None:
            session.kill()
            session.wait(10)
        session.stdin.close()
        session.stdout.close()


def test_the_daemon_stops_when_the_session_is_killed(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "daemon.testing.sandbox_session", "--dir", str(tmp_path / "sbx")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    ) as session:
        assert session.stdout is not None
        sock = Path(json.loads(session.stdout.readline())["socket"])
        pid = call_sync(sock, "status", {})["pid"]
        session.kill()  # SIGKILL: the session cleans nothing up itself
        session.wait(10)

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for its reaper is gone too
            return stat.read().split(") ", 1)[1].startswith("Z")

    wait_until(gone, 30, "the session's daemon to stop with it")
