"""An account's test and live environments, through the real daemon and its operator socket.

Seed 000 "Settings": "Enter the Tharstern API Key, both for the test environment (if
applicable) and for the live environment"; issue 14: "`esd test-connection` checks the one in
use and reports the other", for every account. Two reference sandboxes with different logins
stand for the two environments: the driver can only get in with its own environment's
credentials, so a push landing in the test sandbox proves which credentials it was given.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from daemon.providers.reference.sandbox import ReferenceSandbox
from tests.daemon_process import ROOT, DaemonProcess, wait_until
from tests.helpers import config_text, make_order

pytestmark = pytest.mark.slow

LIVE_SECRET = "L1ve-env-s3cret"
TEST_SECRET = "T3st-env-s3cret"
#: nothing listens on the discard port of loopback: a connection there is refused
WRONG_URL = "http://127.0.0.1:9"


def environments_config(
    tmp_path: Path, *, environment: str, live_url: str, test_url: str | None
) -> str:
    """One account `mis` with a live table (and a test table when `test_url`), the switch set;
    a second account `solo` in today's form (one table: live only)."""
    text = config_text(
        tmp_path,
        accounts={
            "mis": {"url": live_url, "password": LIVE_SECRET},
            "solo": {"url": live_url, "password": LIVE_SECRET},
        },
    )
    text = text.replace(
        '[accounts.mis]\nprovider = "reference"\n',
        f'[accounts.mis]\nprovider = "reference"\nenvironment = "{environment}"\n',
    ).replace("[accounts.mis.credentials]\n", "[accounts.mis.credentials.live]\n")
    if test_url is not None:
        text += (
            "\n[accounts.mis.credentials.test]\n"
            f'url = "{test_url}"\nlogin = "esd-test"\npassword = "{TEST_SECRET}"\n'
        )
    assert f'environment = "{environment}"' in text and "credentials.live]" in text
    return text


def start(tmp_path: Path, text: str) -> tuple[DaemonProcess, Path]:
    config = tmp_path / "esd.toml"
    config.write_text(text)
    daemon = DaemonProcess(config, tmp_path)
    daemon.start()
    return daemon, tmp_path / "esd.sock"


def cli(sock: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--socket", str(sock), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def pings(sandbox: ReferenceSandbox) -> int:
    calls: dict[str, int] = sandbox.state()["calls"]
    return sum(n for route, n in calls.items() if "ping" in route)


def test_both_environments_are_tested_and_the_one_in_use_is_the_drivers(tmp_path: Path) -> None:
    with (
        ReferenceSandbox(login="esd", password=LIVE_SECRET) as live,
        ReferenceSandbox(login="esd-test", password=TEST_SECRET) as test,
    ):
        text = environments_config(
            tmp_path, environment="test", live_url=live.url, test_url=test.url
        )
        daemon, sock = start(tmp_path, text)
        try:
            answer: dict[str, Any] = daemon.call(sock, "test-connection", {"account": "mis"})
            mis = answer["accounts"]["mis"]
            assert mis["environment"] == "test"
            assert (mis["ok"], mis["server_version"]) == (True, "1.0")
            assert mis["environments"]["test"] == {
                "in_use": True,
                "configured": True,
                "ok": True,
                "detail": "reference-mis 1.0 answers",
                "server_version": "1.0",
            }
            assert mis["environments"]["live"]["in_use"] is False
            assert mis["environments"]["live"]["ok"] is True
            assert pings(test) >= 1 and pings(live) >= 1, "each environment was asked"

            # The live environment failing is reported as the other one's failure; the one in
            # use (the driver's) is still fine.
            live.set_faults(fail_next=[{"path_prefix": "/api/ping", "kind": "503"}] * 3)
            answer = daemon.call(sock, "test-connection", {"account": "mis"})
            mis = answer["accounts"]["mis"]
            assert mis["ok"] is True and mis["environments"]["test"]["ok"] is True
            assert mis["environments"]["live"]["ok"] is False
            assert "503" in mis["environments"]["live"]["detail"]

            # The driver pushes with the test environment's credentials: into the test MIS.
            order = make_order("E-1", items=1)
            daemon.submit_order(sock, order)
            wait_until(lambda: test.state()["jobs"] and live.state()["jobs"], 30, "both jobs")
            # `solo` (live) pushes too: each job's reference names the account that made it.
            assert [j["reference"].split(":")[1] for j in test.state()["jobs"]] == ["mis"]
            assert [j["reference"].split(":")[1] for j in live.state()["jobs"]] == ["solo"]

            status = daemon.call(sock, "status")
            assert status["accounts"]["mis"]["environment"] == "test"
            assert status["accounts"]["solo"]["environment"] == "live"

            # For people: each environment on its own row, labelled.
            run = cli(sock, "test-connection")
            assert run.returncode == 0, run.stderr
            rows = [line.split() for line in run.stdout.splitlines()]
            assert ["testing", "mis", "(live,", "not", "in", "use)"] in rows  # progress
            rows = rows[rows.index(["ACCOUNT", "ENVIRONMENT", "RESULT", "VERSION", "DETAIL"]) :]
            assert rows[0] == ["ACCOUNT", "ENVIRONMENT", "RESULT", "VERSION", "DETAIL"]
            assert rows[1][:6] == ["mis", "test", "(in", "use)", "ok", "1.0"]
            assert rows[2][:4] == ["mis", "live", "(other)", "ok"]  # its faults were used up
            assert rows[3][:5] == ["solo", "live", "(in", "use)", "ok"]
            assert rows[4][:5] == ["solo", "test", "(other)", "not", "configured"]
            shown = cli(sock, "status").stdout
            assert "ENVIRONMENT" in shown

            # A reload that flips the switch is a credentials change: named, not applied.
            (tmp_path / "esd.toml").write_text(text.replace('"test"', '"live"', 1))
            seen = len(daemon.messages)
            assert daemon.proc is not None
            daemon.proc.send_signal(signal.SIGHUP)
            daemon.wait_message("READY=1", 30)
            assert len(daemon.messages) > seen
            status = daemon.call(sock, "status")
            assert status["config"]["needs_restart"] == ["accounts.mis.environment"]
            assert status["accounts"]["mis"]["environment"] == "test"
            answer = daemon.call(sock, "test-connection", {"account": "mis"})
            assert answer["accounts"]["mis"]["environment"] == "test"

            everything = json.dumps(answer) + run.stdout + shown + daemon.log_text()
            for secret in (LIVE_SECRET, TEST_SECRET):
                assert secret not in everything, secret
            assert daemon.terminate() == 0
        finally:
            daemon.close()


def test_a_wrong_url_for_the_other_environment_is_reported_not_fatal(tmp_path: Path) -> None:
    with ReferenceSandbox(login="esd", password=LIVE_SECRET) as live:
        text = environments_config(
            tmp_path, environment="live", live_url=live.url, test_url=WRONG_URL
        )
        daemon, sock = start(tmp_path, text)
        try:
            answer: dict[str, Any] = daemon.call(sock, "test-connection", {})
            mis = answer["accounts"]["mis"]
            assert mis["environment"] == "live" and mis["ok"] is True
            other = mis["environments"]["test"]
            assert (other["in_use"], other["configured"], other["ok"]) == (False, True, False)
            assert other["detail"], "the failure says why"
            solo = answer["accounts"]["solo"]["environments"]
            assert solo["test"] == {
                "in_use": False,
                "configured": False,
                "ok": None,
                "detail": "not configured",
                "server_version": "",
            }
            # The failed other environment does not touch the account's connection health.
            health = daemon.call(sock, "status")
            assert health["accounts"]["mis"]["environment"] == "live"
            connection = health["connections"]["mis"]
            assert (connection["last_error"], connection["consecutive_failures"]) == (None, 0)
            assert TEST_SECRET not in json.dumps(answer) + daemon.log_text()
            assert daemon.terminate() == 0
        finally:
            daemon.close()
