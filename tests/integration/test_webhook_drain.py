"""A webhook still arriving when the daemon is told to stop is stored, then answered 200.

systemd stops esd with SIGTERM. The webhook listener stops taking new connections but lets a
request already being received finish: its event is committed before the 200 goes out, and only
then does the daemon exit. Over a real socket to a real daemon subprocess.
"""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import config_text
from tests.intake_server import envelope, signed

pytestmark = pytest.mark.slow

KEY = "drain-site-Key-2b7e"


def _receive_queue(local_port: int, remote_port: int) -> int | None:
    """Bytes waiting unread in the daemon's socket of this connection (from /proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.rsplit(":", 1)[1], 16) == local_port and (
            int(remote.rsplit(":", 1)[1], 16) == remote_port
        ):
            return int(fields[4].split(":")[1], 16)
    return None


def _read_answer(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc/net/tcp (Linux)")
def test_a_webhook_in_flight_at_sigterm_is_stored_before_its_200(tmp_path: Path) -> None:
    config = tmp_path / "esd.toml"
    config.write_text(config_text(tmp_path, site_extra=f'security_key = "{KEY}"\n'))
    daemon = DaemonProcess(config, tmp_path)
    sock = tmp_path / "esd.sock"
    try:
        daemon.start()
        port = int(daemon.call(sock, "status")["webhooks"]["port"])
        body = envelope("OrderPlaced", order=4242, message_id="drain-4242")
        head = (
            "POST /webhooks/pressero/shop HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nMessageHash: {signed(KEY, body)['MessageHash']}\r\n"
            "\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            # A first request on this connection: the listener has accepted it.
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert _read_answer(conn).startswith(b"HTTP/1.1 200")
            # The webhook's head and half its body; the daemon has read them all (nothing left
            # in its receive queue), so the request is in the app, waiting for the rest.
            conn.sendall(head + body[: len(body) // 2])
            client_port = conn.getsockname()[1]
            wait_until(lambda: _receive_queue(port, client_port) == 0, 20, "the head read")
            assert daemon.proc is not None
            daemon.proc.terminate()  # SIGTERM, as systemd stops the unit
            daemon.wait_message("STOPPING=1", 20)
            conn.sendall(body[len(body) // 2 :])
            answer = _read_answer(conn)
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert b'"duplicate": false' in answer
        assert daemon.proc.wait(30) == 0, daemon.log_text()
        with sqlite3.connect(tmp_path / "esd.sqlite3") as db:
            rows = db.execute(
                "SELECT kind FROM events WHERE dedupe_key = ?", ("drain-4242",)
            ).fetchall()
        assert rows == [("storefront.webhook",)]
        # and the daemon took no new connection while draining: it is gone now
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        daemon.close()
