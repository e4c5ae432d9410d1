"""Bad input of any size gets a clean error naming it: JSON nested too deeply in a Pace
setting (`esd check-config`, a real process) or in a storefront's answer (a real HTTP server),
and error lines that quote a value cut it."""

from __future__ import annotations

import http.server
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from daemon.errors import ServerError
from daemon.remote.http_errors import error_for_response, json_answer
from daemon.remote.json_text import MAX_DEPTH
from tests.daemon_process import ROOT
from tests.helpers import loopback_http

DEEP = "[" * 5000 + "]" * 5000
TOO_DEEP = f"nested too deeply (more than {MAX_DEPTH} levels)"

PACE = """
[daemon]
state_dir = "{tmp}"
socket = "{tmp}/esd.sock"
[accounts.pace-live]
provider = "pace"
[accounts.pace-live.credentials]
url = "https://pace.example.com"
login = "esd"
password = "pace-pw-1"
[accounts.pace-live.settings]
{settings}
"""


def check_config(tmp_path: Path, settings: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "esd.toml"
    config.write_text(PACE.format(tmp=tmp_path, settings=settings))
    return subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--config", str(config), "check-config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


@pytest.mark.parametrize("key", ["accounts", "site_mapping"])
def test_check_config_names_a_pace_json_setting_nested_too_deeply(tmp_path: Path, key: str) -> None:
    done = check_config(tmp_path, f"{key} = '{DEEP}'")
    assert done.returncode == 4, done.stderr
    assert f"accounts.pace-live.settings.{key}: {TOO_DEEP}" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_check_config_names_a_toml_value_nested_too_deeply(tmp_path: Path) -> None:
    done = check_config(tmp_path, f"accounts = {DEEP[:1000]}{DEEP[-1000:]}")
    assert done.returncode == 4, done.stderr
    assert "TOML " + TOO_DEEP in done.stdout
    done = check_config(tmp_path, f"accounts = {DEEP[:400]}{DEEP[-400:]}")
    assert done.returncode == 4, done.stderr
    assert f"accounts.pace-live.settings.accounts: {TOO_DEEP}" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


class _DeepAnswers(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = ('{"Message": ' + DEEP + "}").encode()
        self.send_response(200 if self.path == "/ok" else 500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def deep_server() -> Iterator[str]:
    with loopback_http(_DeepAnswers) as url:
        yield url


def test_a_storefront_answer_nested_too_deeply_is_a_server_error(deep_server: str) -> None:
    with httpx.Client(base_url=deep_server, timeout=10) as http:
        ok = http.get("/ok")
        failed = http.get("/fail")
    with pytest.raises(
        ServerError, match=re.escape(f"read orders: HTTP 200: answer is {TOO_DEEP}")
    ):
        json_answer(ok, what="read orders")
    error = error_for_response(failed, what="read orders")
    assert isinstance(error, ServerError) and "HTTP 500" in str(error)
    assert len(str(error)) < 600, "the server's text is cut"


HUGE = "x" * 1_000_000


@pytest.mark.parametrize(
    "settings",
    [
        f'date_fields = "{HUGE}"',
        f'timezone = "{HUGE}"',
        f'promise_days = "{HUGE}"',
        f'holidays = ["{HUGE}"]',
        f'"{HUGE}" = 1',
        f'accounts = \'[{{"rule_type": "{HUGE}"}}]\'',
        f'accounts = \'[{{"{HUGE}": 1, "rule_type": "DefaultMapping", "account": "A"}}]\'',
        f'site_mapping = \'[{{"siteName": "{HUGE}"}}, {{"siteName": "{HUGE}"}}]\'',
        f"[accounts.pace-live.settings.x]\n[accounts.pace-live.{HUGE}]",
    ],
    ids=["choice", "zone", "number", "date", "key", "rule", "rule-key", "site", "table"],
)
def test_an_error_quoting_a_huge_value_cuts_it(tmp_path: Path, settings: str) -> None:
    done = check_config(tmp_path, settings)
    assert done.returncode == 4, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines and all(len(line) < 700 for line in lines), [line[:300] for line in lines]
    assert any("…" in line for line in lines), lines
    assert "Traceback" not in done.stdout + done.stderr
