"""The SMTP password never shows, not even base64-encoded: a real daemon, a real MIS sandbox
refusing an order (one alert), and a real SMTP server on loopback that answers AUTH with a 535
quoting the AUTH data it got, as some servers do."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from daemon.providers.reference.sandbox import ReferenceSandbox
from tests.daemon_process import DaemonProcess, wait_until
from tests.helpers import config_text, make_order
from tests.integration.test_alert_mail import free_port

SMTP_USER = "alerts@printshop.example"
SMTP_PASSWORD = "smtp-Pass-5521/x"
MIS_PASSWORD = "mis-Pw-8841"


def encoded_forms(user: str, secret: str) -> set[str]:
    """The secret and its base64 spellings a server, a proxy or a client may echo."""
    forms = {secret}
    for data in (secret, f"\0{user}\0{secret}", f"{user}:{secret}"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(data.encode()).decode()
            forms |= {text, text.rstrip("=")}
    return forms


class EchoingAuthFailure:
    """aiosmtpd handler: every AUTH fails with a 535 that quotes the client's AUTH data."""

    def __init__(self) -> None:
        self.echoed: list[str] = []

    async def handle_AUTH(self, server: Any, session: Any, envelope: Any, args: list[str]) -> str:
        data = args[1:]
        if args[0] == "LOGIN":  # user name in the AUTH line (or asked for), then the password
            if not data:
                data = [base64.b64encode(await server.challenge_auth("Username:")).decode()]
            data.append(base64.b64encode(await server.challenge_auth("Password:")).decode())
        reply = "535 5.7.8 authentication failed for " + " ".join(data)
        self.echoed.append(reply)
        return reply


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_a_535_quoting_the_auth_data_leaks_no_secret_to_the_store_log_or_socket(
    tmp_path: Path, mechanism: str
) -> None:
    mis = ReferenceSandbox(login="esd", password=MIS_PASSWORD)
    mis.start()
    smtp = EchoingAuthFailure()
    port = free_port()
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[mechanism]
    controller = Controller(
        smtp,
        hostname="127.0.0.1",
        port=port,
        auth_require_tls=False,
        auth_exclude_mechanism=[other],
    )
    controller.start()
    config = tmp_path / "esd.toml"
    config.write_text(
        config_text(
            tmp_path,
            accounts={"mis": {"url": mis.url, "password": MIS_PASSWORD, "customer": "C-NONE"}},
            extra=(
                f'\n[alerts]\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\ntls = "none"\n'
                f'username = "{SMTP_USER}"\npassword = "{SMTP_PASSWORD}"\n'
                'sender = "esd@printshop.example"\nrecipients = ["ops@printshop.example"]\n'
            ),
        )
    )
    daemon = DaemonProcess(config, tmp_path)
    sock = tmp_path / "esd.sock"
    try:
        daemon.start()
        daemon.submit_order(sock, make_order("4242", items=1), "4242-v1")

        def mail_error() -> str | None:
            with sqlite3.connect(tmp_path / "esd.sqlite3") as db:
                row = db.execute("SELECT mail_error FROM alerts").fetchone()
            return None if row is None else row[0]

        error = wait_until(mail_error, 30, "the alert's mail attempt failed")
        wait_until(lambda: "alert.mail_failed" in daemon.log_text(), 30, "the failure logged")
        answers = json.dumps(
            [daemon.call(sock, "status"), daemon.call(sock, "order", {"order": "4242"})]
        )
        assert daemon.terminate() == 0
    finally:
        daemon.close()
        controller.stop()
        mis.stop()

    # the server did quote the AUTH data: the secret's encodings were there to leak
    assert any(
        form in reply for reply in smtp.echoed for form in encoded_forms(SMTP_USER, SMTP_PASSWORD)
    )
    assert "535" in error and "***" in error
    log = daemon.log_text()
    for secret, user in ((SMTP_PASSWORD, SMTP_USER), (MIS_PASSWORD, "esd")):
        for form in encoded_forms(user, secret):
            assert form not in error, f"{form!r} in the stored mail error"
            assert form not in log, f"{form!r} in the log"
            assert form not in answers, f"{form!r} in an operator answer"
