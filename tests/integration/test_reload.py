"""SIGHUP reloads the config of the real daemon; under journald each line carries its priority."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon.providers.reference.sandbox import ReferenceSandbox
from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import config_text, make_order

pytestmark = pytest.mark.slow

SECRET = "Rel0ad-s3cret-pw"


def write_config(path: Path, sandbox_url: str, **kwargs: Any) -> None:
    accounts = {"mis": {"url": sandbox_url, "password": SECRET, **kwargs.pop("account", {})}}
    path.write_text(config_text(path.parent, accounts=accounts, **kwargs))


@contextlib.contextmanager
def reference_daemon(config: Path) -> Iterator[tuple[ReferenceSandbox, DaemonProcess]]:
    """A reference sandbox, the config at `config` for it, and the daemon started on that
    config (state in the config's folder); the daemon is closed on the way out."""
    with ReferenceSandbox(login="esd", password=SECRET) as sandbox:
        write_config(config, sandbox.url)
        daemon = DaemonProcess(config, config.parent)
        daemon.start()
        try:
            yield sandbox, daemon
        finally:
            daemon.close()


def submit(daemon: DaemonProcess, sock: Path, number: str) -> None:
    order = make_order(number, items=1)
    daemon.call(
        sock,
        "submit",
        {
            "source": "storefront:shop",
            "dedupe_key": number,
            "kind": "order.snapshot",
            "payload": {"order": order.to_json()},
        },
    )


def log_lines(daemon: DaemonProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in daemon.log_text().splitlines() if line.startswith("{")]


def events(daemon: DaemonProcess, name: str) -> list[dict[str, Any]]:
    return [line for line in log_lines(daemon) if line.get("event") == name]


def item_states(db_path: Path, order: str) -> list[str]:
    db = sqlite3.connect(db_path)
    try:
        rows = db.execute("SELECT state FROM items WHERE order_number = ?", (order,)).fetchall()
    finally:
        db.close()
    return [r[0] for r in rows]


def hup_and_wait_ready(daemon: DaemonProcess) -> list[str]:
    """SIGHUP; the notify messages from RELOADING=1 up to READY=1."""
    assert daemon.proc is not None
    seen = len(daemon.messages)
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_message("READY=1", 30)
    return daemon.messages[seen:]


def test_sighup_applies_live_changes_without_stopping(tmp_path: Path) -> None:
    config = tmp_path / "esd.toml"
    sock = tmp_path / "esd.sock"
    with reference_daemon(config) as (sandbox, daemon):
        assert daemon.proc is not None
        pid = daemon.proc.pid
        submit(daemon, sock, "R-1")
        wait_until(lambda: item_states(tmp_path / "esd.sqlite3", "R-1") == ["pushed"], 30)
        before = daemon.call(sock, "status")["config"]
        assert before["log_level"] == "debug" and before["reloads"] == 0
        assert before["retry"]["initial_seconds"] == 30
        assert before["live"] == {"shop": ["mis"]}

        write_config(
            config,
            sandbox.url,
            site_accounts=[("mis", True, False)],
            retry="initial_seconds = 7\nmax_seconds = 600\njitter = 0",
            account={"poll": 60},
        )
        text = config.read_text().replace('log_level = "debug"', 'log_level = "info"')
        config.write_text(text)
        messages = hup_and_wait_ready(daemon)

        fields = [m.split("\n") for m in messages]
        assert any("RELOADING=1" in f for f in fields), messages
        reloading = next(i for i, f in enumerate(fields) if "RELOADING=1" in f)
        assert any("READY=1" in f for f in fields[reloading:]), "READY=1 after RELOADING=1"
        assert any(line.startswith("MONOTONIC_USEC=") for line in fields[reloading])
        assert not any("STOPPING=1" in f for f in fields)
        assert daemon.proc.poll() is None

        status = daemon.call(sock, "status")
        assert status["pid"] == pid
        after = status["config"]
        assert after["reloads"] == 1 and after["last_reload_error"] is None
        assert after["loaded_at"] != before["loaded_at"]
        assert after["log_level"] == "info"
        assert after["retry"]["initial_seconds"] == 7 and after["retry"]["max_seconds"] == 600
        assert after["live"] == {"shop": []}
        assert after["needs_restart"] == []
        reloaded = events(daemon, "config.reloaded")
        assert len(reloaded) == 1
        assert {
            "daemon.log_level",
            "retry.initial_seconds",
            "retry.max_seconds",
            "accounts.mis.status_poll_seconds",
            "sites.shop.activations[0].is_live",
        } <= set(reloaded[0]["changed"])
        assert not events(daemon, "config.reload_needs_restart")

        # The activation is no longer live: a new order is stored, not pushed.
        submit(daemon, sock, "R-2")
        wait_until(
            lambda: any(e["order"] == "R-2" for e in events(daemon, "order.no_live_account")),
            30,
            "order R-2 judged",
        )
        assert item_states(tmp_path / "esd.sqlite3", "R-2") == []
        assert len(sandbox.state()["jobs"]) == 1, "only R-1 reached the MIS"

        # The new level is in force: no debug line (operator.request is one) after it.
        lines = log_lines(daemon)
        at = next(i for i, line in enumerate(lines) if line["event"] == "config.reloaded")
        assert any(line["level"] == "debug" for line in lines[:at])
        assert not any(line["level"] == "debug" for line in lines[at:])
        assert daemon.terminate() == 0
    assert SECRET not in daemon.log_text()


def test_sighup_with_an_invalid_config_keeps_the_running_one(tmp_path: Path) -> None:
    config = tmp_path / "esd.toml"
    sock = tmp_path / "esd.sock"
    with reference_daemon(config) as (sandbox, daemon):
        assert daemon.proc is not None
        write_config(config, sandbox.url, account={"concurrency": 0})
        config.write_text(config.read_text().replace('log_level = "debug"', 'log_level = "info"'))
        messages = hup_and_wait_ready(daemon)
        ready = next(m for m in messages if "READY=1" in m.split("\n"))
        assert "STATUS=config reload failed" in ready and "concurrency" in ready
        assert daemon.proc.poll() is None

        failed = events(daemon, "config.reload_failed")
        assert len(failed) == 1 and failed[0]["level"] == "error"
        assert any("accounts.mis.concurrency" in p for p in failed[0]["problems"])
        assert not events(daemon, "config.reloaded")
        status = daemon.call(sock, "status")["config"]
        assert status["log_level"] == "debug", "the running config is kept whole"
        assert status["reloads"] == 0
        assert "accounts.mis.concurrency" in status["last_reload_error"]

        # Still working on the old config: an order is pushed.
        submit(daemon, sock, "I-1")
        wait_until(lambda: item_states(tmp_path / "esd.sqlite3", "I-1") == ["pushed"], 30)
        assert daemon.terminate() == 0


def test_sighup_names_what_needs_a_restart_and_keeps_its_value(tmp_path: Path) -> None:
    config = tmp_path / "esd.toml"
    sock = tmp_path / "esd.sock"
    with reference_daemon(config) as (sandbox, daemon):
        port = daemon.call(sock, "status")["webhooks"]["port"]
        write_config(
            config,
            "http://127.0.0.1:9",  # nothing listens there: the old URL must stay in use
            account={"concurrency": 2},
            retry="initial_seconds = 5\nmax_seconds = 3600\njitter = 0",
            listener_extra="max_body_bytes = 2048",
        )
        text = config.read_text().replace("port = 0", "port = 1")
        config.write_text(text)
        hup_and_wait_ready(daemon)

        needs = events(daemon, "config.reload_needs_restart")
        assert len(needs) == 1 and needs[0]["level"] == "warning"
        assert set(needs[0]["keys"]) == {
            "accounts.mis.credentials.url",
            "accounts.mis.concurrency",
            "listeners.webhook.port",
            "listeners.webhook.max_body_bytes",
        }
        reloaded = events(daemon, "config.reloaded")
        assert len(reloaded) == 1 and reloaded[0]["changed"] == ["retry.initial_seconds"]
        status = daemon.call(sock, "status")
        assert status["webhooks"]["port"] == port
        assert status["config"]["retry"]["initial_seconds"] == 5
        assert "accounts.mis.credentials.url" in status["config"]["needs_restart"]

        submit(daemon, sock, "N-1")
        wait_until(lambda: item_states(tmp_path / "esd.sqlite3", "N-1") == ["pushed"], 30)
        assert len(sandbox.state()["jobs"]) == 1, "pushed to the URL the daemon started with"
        assert daemon.terminate() == 0
    assert SECRET not in daemon.log_text()


def test_under_journald_each_line_starts_with_its_priority(tmp_path: Path) -> None:
    config = tmp_path / "esd.toml"
    with ReferenceSandbox(login="esd", password=SECRET) as sandbox:
        write_config(config, sandbox.url)
        # The daemon's output file exists before it starts (DaemonProcess reopens it, same
        # inode), so JOURNAL_STREAM can name it as systemd names the journal's stream.
        out = tmp_path / "daemon-1.log"
        out.touch()
        stat = os.stat(out)
        daemon = DaemonProcess(
            config, tmp_path, env={"JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino}"}
        )
        daemon.start()
        try:
            assert daemon.proc is not None
            write_config(config, sandbox.url, account={"concurrency": 0})
            hup_and_wait_ready(daemon)  # an error line
            write_config(config, sandbox.url, account={"concurrency": 2})
            hup_and_wait_ready(daemon)  # a warning line
            assert daemon.terminate() == 0
        finally:
            daemon.close()
    lines = [line for line in out.read_text().splitlines() if line]
    priorities = {"debug": "<7>", "info": "<6>", "warning": "<4>", "error": "<3>"}
    seen = set()
    for line in lines:
        prefix, _, rest = line.partition(">")
        record = json.loads(rest)  # the JSON line itself is unchanged
        assert prefix + ">" == priorities[record["level"]], line
        seen.add(record["event"])
    assert {"daemon.ready", "config.reload_failed", "config.reload_needs_restart"} <= seen
    assert any(line.startswith("<3>") and "config.reload_failed" in line for line in lines)


def test_a_journal_stream_that_is_not_ours_gets_no_prefix(tmp_path: Path) -> None:
    config = tmp_path / "esd.toml"
    with ReferenceSandbox(login="esd", password=SECRET) as sandbox:
        write_config(config, sandbox.url)
        other = os.stat(config)  # a file, but not the one the daemon writes to
        daemon = DaemonProcess(
            config, tmp_path, env={"JOURNAL_STREAM": f"{other.st_dev}:{other.st_ino}"}
        )
        daemon.start()
        try:
            assert daemon.terminate() == 0
        finally:
            daemon.close()
    lines = [line for line in daemon.log_text().splitlines() if line]
    assert lines and all(line.startswith("{") for line in lines)
