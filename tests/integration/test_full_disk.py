"""A full disk under the store: the daemon stays up, says so, and resumes by itself.

On a real, small filesystem (a 2 MiB tmpfs mounted for the test; root only) holding the real
daemon's store: a filler file takes the last free byte, webhooks then get 503 with
Retry-After (never a 200 that was not committed), `esd status` and `/readyz` name the
condition, one alert e-mail reaches a real SMTP server on loopback (aiosmtpd), and the
process stays up (no STOPPING=1, no exit). The filler deleted, the daemon finds out by itself:
the next webhook gets 200 and is processed, nothing acknowledged is lost, no event was
poisoned for the disk, and the alert is recorded once, as sent (not sent again).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import config_text
from tests.intake_server import envelope, signed

pytestmark = pytest.mark.slow

KEY = "full-disk-Key-41c9"


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, unmounted afterwards: a filesystem the test can really fill."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root")
    where = tmp_path / "small-fs"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=False)


def fill(path: Path) -> None:
    """Write `path` until the filesystem has no byte left."""
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as out:
        while True:
            try:
                out.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
        while True:  # the last partial block
            try:
                if out.write(b"\0") == 0:
                    break
            except OSError:
                break


class Mailbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def notify_messages(daemon: DaemonProcess) -> list[str]:
    """Every sd_notify message the daemon sent so far (read without waiting)."""
    assert daemon.notify is not None
    daemon.notify.setblocking(False)
    try:
        while True:
            daemon.messages.append(daemon.notify.recv(4096).decode())
    except BlockingIOError:
        pass
    finally:
        daemon.notify.setblocking(True)
    return [line for message in daemon.messages for line in message.split("\n")]


def test_a_full_disk_is_survived_reported_alerted_once_and_recovered(
    tmp_path: Path, small_fs: Path
) -> None:
    smtp_port = free_port()
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    text = config_text(
        tmp_path,
        site_extra=f'security_key = "{KEY}"\n',
        extra=(
            f'\n[alerts]\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp_port}\ntls = "none"\n'
            'sender = "esd@printshop.example"\nrecipients = ["ops@printshop.example"]\n'
        ),
    ).replace(f'state_dir = "{tmp_path}"', f'state_dir = "{small_fs}"')
    config = tmp_path / "esd.toml"
    config.write_text(text)
    store = small_fs / "esd.sqlite3"
    daemon = DaemonProcess(config, tmp_path)
    sock = tmp_path / "esd.sock"
    sent = iter(range(1, 100_000))

    def post(http: httpx.Client) -> tuple[httpx.Response, str]:
        n = next(sent)
        message_id = f"disk-{n}"
        # A type esd does not act on: processed to `done` with no storefront configured (an
        # order's webhook would be poisoned here for want of one, which is not the point).
        body = envelope("OrderCommentAdded", order=7000 + n, message_id=message_id)
        return http.post("/webhooks/pressero/shop", content=body, headers=signed(KEY, body)), (
            message_id
        )

    def events() -> dict[str, str]:
        with contextlib.closing(sqlite3.connect(store)) as db:
            return dict(
                db.execute("SELECT dedupe_key, status FROM events WHERE source LIKE 'pressero:%'")
            )

    def status() -> dict[str, Any]:
        answer: dict[str, Any] = daemon.call(sock, "status")
        return answer

    try:
        daemon.start()
        port = int(status()["webhooks"]["port"])
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            assert http.get("/readyz").status_code == 200
            acknowledged: list[str] = []
            first, message_id = post(http)
            assert first.status_code == 200, first.text
            acknowledged.append(message_id)

            filler = small_fs / "filler"
            fill(filler)
            refused: list[httpx.Response] = []

            def refused_one() -> bool:
                answer, message_id = post(http)
                if answer.status_code == 200:  # it fitted in space SQLite already had
                    acknowledged.append(message_id)
                    return False
                refused.append(answer)
                return True

            wait_until(refused_one, 60, "a webhook refused for the full disk")
            answer = refused[0]
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"].isdigit()
            assert "store unavailable" in answer.json()["error"]

            # Still up, saying why.
            health = status()["store"]
            assert health["state"] == "full" and health["since"], health
            assert "full" in health["last_error"], health
            ready = http.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["failing"] == ["store"]
            assert ready.json()["checks"]["store"]["state"] == "full"
            # The alert goes out while the disk is still full.
            wait_until(lambda: mailbox.messages, 60, "the full-disk alert e-mail")
            assert "store" in mailbox.messages[0]["Subject"]
            assert "cannot write" in mailbox.messages[0].get_payload()
            assert daemon.proc is not None and daemon.proc.poll() is None, daemon.log_text()
            later, _ = post(http)
            assert later.status_code in (200, 503)  # never an error of another kind
            assert "STOPPING=1" not in notify_messages(daemon)

            # Room again: the daemon finds out by itself, without a webhook to prod it.
            filler.unlink()
            wait_until(lambda: status()["store"]["state"] == "ok", 60, "the store recovered")
            assert http.get("/readyz").status_code == 200
            after, message_id = post(http)
            assert after.status_code == 200, after.text
            acknowledged.append(message_id)
            wait_until(
                lambda: all(events().get(m) == "done" for m in acknowledged),
                60,
                "every acknowledged webhook processed",
            )
            assert "poisoned" not in events().values()
            assert status()["inbox"]["poisoned"] == 0

        with contextlib.closing(sqlite3.connect(store)) as db:
            alerts = db.execute(
                "SELECT account, subject, mail_status, message FROM alerts"
            ).fetchall()
        assert [(a[0], a[1], a[2]) for a in alerts] == [("daemon", "store", "sent")]
        assert "cannot write" in alerts[0][3]
        assert len(mailbox.messages) == 1, [m["Subject"] for m in mailbox.messages]
        assert daemon.proc.poll() is None, daemon.log_text()
        assert "STOPPING=1" not in notify_messages(daemon)
        assert daemon.terminate() == 0, daemon.log_text()
        log = daemon.log_text()
        assert "store.unavailable" in log and "store.recovered" in log
        assert json.dumps(KEY) not in log
    finally:
        daemon.close()
        controller.stop()
