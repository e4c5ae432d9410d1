"""daemon.operator.environments: the environment not in use, checked with a driver built for
the check, against a real reference sandbox on loopback (issue 14: "`esd test-connection`
checks the one in use and reports the other")."""

from __future__ import annotations

import pytest

from daemon.config import Account, parse_config
from daemon.operator import environments
from daemon.providers.reference.sandbox import ReferenceSandbox

pytestmark = pytest.mark.anyio

PASSWORD = "env-check-pw-9"


def account(test_url: str, test_password: str = PASSWORD, *, test: bool = True) -> Account:
    text = """
[accounts.mis]
provider = "reference"
[accounts.mis.credentials.live]
url = "http://127.0.0.1:9"
login = "esd"
password = "live-pw"
[accounts.mis.settings]
customer = "C100"
"""
    if test:
        text += f"""
[accounts.mis.credentials.test]
url = "{test_url}"
login = "esd"
password = "{test_password}"
"""
    return parse_config(text, environ={}).accounts["mis"]


async def test_the_other_environment_answers_through_its_own_driver() -> None:
    with ReferenceSandbox(login="esd", password=PASSWORD) as sandbox:
        mis = account(sandbox.url)
        assert mis.environment == "live"
        found = await environments.check_environment(mis, "test", {})
        assert found is not None
        assert (found.ok, found.server_version) == (True, "1.0")
        assert environments.report(False, found) == {
            "in_use": False,
            "configured": True,
            "ok": True,
            "detail": "reference-mis 1.0 answers",
            "server_version": "1.0",
        }
        # the wrong password of the test environment: refused, and the secret is not shown
        refused = await environments.check_environment(account(sandbox.url, "wrong-pw"), "test", {})
        assert refused is not None and refused.ok is False
        assert "wrong-pw" not in refused.detail and PASSWORD not in refused.detail


async def test_an_environment_without_credentials_is_not_configured() -> None:
    mis = account("", test=False)
    assert await environments.check_environment(mis, "test", {}) is None
    assert environments.report(False, None) == {
        "in_use": False,
        "configured": False,
        "ok": None,
        "detail": "not configured",
        "server_version": "",
    }


async def test_a_driver_that_refuses_its_credentials_is_a_failed_check() -> None:
    # An account built by hand, its test credentials lacking the url the driver needs.
    mis = Account(
        "mis",
        "reference",
        1,
        1.0,
        10.0,
        {"url": "http://127.0.0.1:9", "login": "esd", "password": "p"},
        {"customer": "C100"},
        environments={"test": {"login": "esd", "password": "p"}},
    )
    found = await environments.check_environment(mis, "test", {})
    assert found is not None and found.ok is False
    assert found.detail == "ConfigError: credentials.url: required: a non-empty string"
