"""No Tharstern secret in any path that reports a problem: `esd check-config` of a broken
account (the CLI, as a subprocess), a refused sign-in, a refused webhook, the driver's repr."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.config import check_config
from daemon.providers.tharstern.sandbox import TharsternSandbox
from daemon.providers.tharstern.webhook import webhook_judge
from tests.daemon_process import ROOT
from tests.providers.tharstern.harness import SETTINGS, make_driver

pytestmark = pytest.mark.anyio

#: a password and a webhook secret that cannot appear in a message by chance
PASSWORD = "th-Secret-pw-Zk3!q/8"
HOOK = "th-Hook-Secret-Vb7#u"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[TharsternSandbox]:
    with TharsternSandbox("esd", "the-right-one") as box:
        yield box


def _broken_config(tmp_path: Path) -> Path:
    config = tmp_path / "esd.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [daemon]
            state_dir = "{tmp_path}"
            socket = "{tmp_path}/esd.sock"
            [accounts.th]
            provider = "tharstern"
            [accounts.th.credentials]
            url = "ftp://mis.example/{PASSWORD}"
            login = "esd@shop.example"
            password = "{PASSWORD}"
            webhook_secret = "{HOOK}"
            [accounts.th.settings]
            products_customer_code = "ESP001"
            password = "{PASSWORD}"
            price_mode = "{PASSWORD}"
            [sites.shop]
            name = "Shop"
            [[sites.shop.activations]]
            account = "th"
            enable = true
            is_live = true
            """
        )
    )
    return config


def test_check_config_names_the_problems_without_a_secret(tmp_path: Path) -> None:
    config = _broken_config(tmp_path)
    problems = check_config(config, environ={})
    keys = {p.key for p in problems}
    assert "accounts.th.credentials.url" in keys
    assert any(k.startswith("accounts.th.settings") for k in keys), keys
    shown = "\n".join(str(p) for p in problems)
    assert PASSWORD not in shown and HOOK not in shown
    run = subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--config", str(config), "check-config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert run.returncode != 0
    assert "accounts.th" in run.stdout + run.stderr
    assert PASSWORD not in run.stdout + run.stderr and HOOK not in run.stdout + run.stderr


async def test_a_refused_sign_in_shows_no_secret(sandbox: TharsternSandbox) -> None:
    driver = make_driver(sandbox.url, PASSWORD, webhook_secret=HOOK)
    try:
        report = await driver.test_connection()
    finally:
        await driver.aclose()
    assert report.ok is False
    for text in (report.detail, repr(driver), repr(driver.client)):
        assert PASSWORD not in text and HOOK not in text


def test_a_refused_webhook_shows_no_secret() -> None:
    credentials = {"url": "http://x", "login": "esd", "password": PASSWORD, "webhook_secret": HOOK}
    headers = {"x-tharstern-webhook-secret": HOOK[:-1]}
    verdict = webhook_judge(SETTINGS, credentials, "POST", headers, b"{}")
    text = repr(verdict)
    assert "401" in text or "bad_secret" in text
    assert PASSWORD not in text and HOOK not in text
