"""The real daemon as systemd runs it: notify, watchdog, graceful drain, no secret leaks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.providers.reference.sandbox import ReferenceSandbox
from tests.daemon_process import ROOT, DaemonProcess, wait_until
from tests.helpers import config_text, make_order

pytestmark = pytest.mark.slow

SECRET = "Tr0ub4dor&3-horse"


def submit(daemon: DaemonProcess, sock: Path, number: int, **kwargs: object) -> None:
    order = make_order(str(number), **kwargs)  # type: ignore[arg-type]
    daemon.call(
        sock,
        "submit",
        {
            "source": "storefront:shop",
            "dedupe_key": order.order_number,
            "kind": "order.snapshot",
            "payload": {"order": order.to_json()},
        },
    )


def states(daemon: DaemonProcess, sock: Path) -> dict[str, int]:
    return dict(daemon.call(sock, "status")["accounts"]["mis"]["states"])


def start(
    tmp_path: Path, sandbox: ReferenceSandbox, env: dict[str, str] | None = None
) -> tuple[DaemonProcess, Path]:
    config = tmp_path / "esd.toml"
    config.write_text(
        config_text(tmp_path, accounts={"mis": {"url": sandbox.url, "password": SECRET}})
    )
    daemon = DaemonProcess(config, tmp_path, env=env)
    daemon.start()
    return daemon, tmp_path / "esd.sock"


def test_ready_watchdog_stopping_and_a_graceful_drain(tmp_path: Path) -> None:
    with ReferenceSandbox(login="esd", password=SECRET) as sandbox:
        sandbox.set_faults(latency_ms=300)
        daemon, sock = start(tmp_path, sandbox, env={"WATCHDOG_USEC": "200000"})
        try:
            assert any("READY=1" in m.split("\n") for m in daemon.messages)
            daemon.wait_message("WATCHDOG=1", 10)  # pinged from the daemon's event loop
            for n in range(4):
                submit(daemon, sock, 2000 + n)
            wait_until(lambda: states(daemon, sock).get("pushing"), 30, "pushes in flight")
            assert daemon.terminate() == 0  # STOPPING=1 seen, clean exit
        finally:
            daemon.close()
        jobs = sandbox.state()["jobs"]
    import sqlite3

    db = sqlite3.connect(tmp_path / "esd.sqlite3")
    left = db.execute("SELECT COUNT(*) FROM items WHERE state = 'pushing'").fetchone()[0]
    pushed = db.execute("SELECT COUNT(*) FROM items WHERE state = 'pushed'").fetchone()[0]
    db.close()
    assert left == 0, "the drain let in-flight pushes finish"
    assert pushed == 2 * len(jobs) and pushed > 0
    assert not (tmp_path / "esd.sock").exists(), "socket removed on exit"


def test_no_secret_reaches_logs_error_texts_or_the_socket(tmp_path: Path) -> None:
    with ReferenceSandbox(login="esd", password=SECRET) as sandbox:
        # A MIS that echoes the credentials in its error (some do): the text must be scrubbed.
        sandbox.set_faults(
            fail_next=[
                {
                    "path_prefix": "/api/jobs",
                    "method": "POST",
                    "kind": "422",
                    "message": f"bad auth {SECRET}",
                }
            ]
        )
        daemon, sock = start(tmp_path, sandbox)
        try:
            # One at a time: the one-shot 422 must land on 3001, not on whichever order's job
            # create comes first.
            submit(daemon, sock, 3001, items=1)
            wait_until(lambda: states(daemon, sock).get("failed") == 1, 30, "3001 failed first")
            submit(daemon, sock, 3002, items=1)
            wait_until(
                lambda: (
                    states(daemon, sock).get("failed") == 1
                    and states(daemon, sock).get("pushed") == 1
                ),
                30,
                "one failed, one pushed",
            )
            outputs = []
            for args in (
                ["order", "3001"],
                ["order", "3001", "--json"],
                ["why", "3001"],
                ["events"],
                ["status", "--json"],
                ["list", "--state", "failed"],
            ):
                run = subprocess.run(
                    [sys.executable, "-m", "daemon.cli", "--socket", str(sock), *args],
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                    timeout=30,
                )
                outputs.append(run.stdout + run.stderr)
            detail = json.loads(outputs[1])
            assert detail["items"][0]["state"] == "failed"
            assert "***" in detail["items"][0]["last_error"], "the echoed secret was scrubbed"
            assert daemon.terminate() == 0
        finally:
            daemon.close()
    stored = (tmp_path / "esd.sqlite3").read_bytes()
    wal = tmp_path / "esd.sqlite3-wal"
    everything = "\n".join(outputs) + daemon.log_text()
    assert SECRET not in everything
    assert SECRET.encode() not in stored + (wal.read_bytes() if wal.exists() else b"")


def test_test_connection_checks_each_account_without_echoing_secrets(tmp_path: Path) -> None:
    with ReferenceSandbox(login="esd", password=SECRET) as sandbox:
        daemon, sock = start(tmp_path, sandbox)
        try:
            ok = daemon.call(sock, "test-connection", {})
            assert ok["accounts"]["mis"]["ok"] is True
            assert ok["accounts"]["mis"]["server_version"] == "1.0"
            # A MIS answering 503 to every try of its ping: the check reports it, no crash.
            sandbox.set_faults(fail_next=[{"path_prefix": "/api/ping", "kind": "503"}] * 3)
            run = subprocess.run(
                [sys.executable, "-m", "daemon.cli", "--socket", str(sock), "test-connection"],
                capture_output=True,
                text=True,
                cwd=ROOT,
                timeout=60,
            )
            assert run.returncode == 0 and "FAILED" in run.stdout and "503" in run.stdout
            assert SECRET not in run.stdout
            assert daemon.terminate() == 0
        finally:
            daemon.close()
