"""daemon.config: credentials per environment (test and live) with a switch, and credential
keys that the provider or the storefront plug-in declares, not the core.

Seed 000 "Settings": "Enter the Tharstern API Key, both for the test environment (if
applicable) and for the live environment" (issue 14: "make the pair and the switch a feature of
every account, not of Tharstern alone"). The reference provider's real checks run here: its
manifest needs `url`, `login` and `password`, the url with a scheme.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from daemon.config import Config, parse_config
from daemon.errors import ConfigError, ConfigProblem
from daemon.providers import registry
from daemon.storefronts import registry as storefront_registry
from daemon.storefronts.contract import StorefrontSpec

HEAD = """
[accounts.a]
provider = "reference"
"""
SETTINGS = """
[accounts.a.settings]
customer = "C100"
"""
LIVE = """
[accounts.a.credentials.live]
url = "https://mis.example"
login = "esd-live"
password = "live-pw-1"
"""
TEST = """
[accounts.a.credentials.test]
url = "https://mis-test.example"
login = "esd-test"
password = "test-pw-2"
"""
FLAT = """
[accounts.a.credentials]
url = "https://mis.example"
login = "esd-live"
password = "live-pw-1"
"""


def account_text(*parts: str, environment: str | None = None) -> str:
    switch = f'environment = "{environment}"\n' if environment is not None else ""
    return HEAD + switch + SETTINGS + "".join(parts)


def parsed(text: str, environ: Mapping[str, str] | None = None) -> Config:
    return parse_config(text, file="t.toml", environ={} if environ is None else environ)


def problems_of(text: str, environ: Mapping[str, str] | None = None) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        parsed(text, environ)
    assert caught.value.problems, "ConfigError without problems"
    return caught.value.problems


# --- good cases -------------------------------------------------------------------------------

GOOD_CASES: list[tuple[str, str, str, dict[str, str], set[str]]] = [
    # (id, text, environment in use, its credentials' url and login, configured environments)
    (
        "one table is the live environment (today's form)",
        account_text(FLAT),
        "live",
        {"url": "https://mis.example", "login": "esd-live"},
        {"live"},
    ),
    (
        "both tables, the default switch: live",
        account_text(LIVE, TEST),
        "live",
        {"url": "https://mis.example", "login": "esd-live"},
        {"live", "test"},
    ),
    (
        "both tables, switched to test",
        account_text(LIVE, TEST, environment="test"),
        "test",
        {"url": "https://mis-test.example", "login": "esd-test"},
        {"live", "test"},
    ),
    (
        # seed 000: "both for the test environment (if applicable) and for the live one"
        "live table only (no test environment)",
        account_text(LIVE, environment="live"),
        "live",
        {"url": "https://mis.example", "login": "esd-live"},
        {"live"},
    ),
    (
        "test table only, switched to test",
        account_text(TEST, environment="test"),
        "test",
        {"url": "https://mis-test.example", "login": "esd-test"},
        {"test"},
    ),
]


@pytest.mark.parametrize(
    ("text", "environment", "identity", "configured"),
    [pytest.param(*case[1:], id=case[0]) for case in GOOD_CASES],
)
def test_the_driver_gets_the_credentials_of_the_environment_in_use(
    text: str, environment: str, identity: dict[str, str], configured: set[str]
) -> None:
    account = parsed(text).accounts["a"]
    assert account.environment == environment
    # What app.py hands the driver: the environment in use only, in the form it always had.
    assert {k: account.credentials[k] for k in identity} == identity
    assert set(account.credentials) == {"url", "login", "password"}
    assert set(account.environments) == configured
    assert account.credentials_of(environment) == account.credentials
    for other in account.other_environments():
        assert other != environment
        assert (account.credentials_of(other) is not None) == (other in configured)


def test_every_environment_is_a_secret_and_none_shows_in_a_repr() -> None:
    config = parsed(account_text(LIVE, TEST, environment="test"))
    account = config.accounts["a"]
    # The environment not in use is scrubbed too: test-connection talks to it.
    assert config.secrets() == {"live-pw-1", "test-pw-2"}
    assert config.logins() == {("esd-live", "live-pw-1"), ("esd-test", "test-pw-2")}
    shown = repr(config) + str(account)
    assert "live-pw-1" not in shown and "test-pw-2" not in shown
    assert "environment='test'" in repr(account)
    assert "credentials=<keys: login, password, url>" in repr(account)
    assert "live_credentials=<keys: login, password, url>" in repr(account)


def test_credentials_as_written_keep_the_files_shape() -> None:
    flat = parsed(account_text(FLAT)).accounts["a"]
    assert not flat.per_environment
    assert set(flat.credentials_as_written()) == {"url", "login", "password"}
    tables = parsed(account_text(LIVE, TEST, environment="test")).accounts["a"]
    assert tables.per_environment
    written = tables.credentials_as_written()
    assert set(written) == {"live", "test"}
    assert written["test"]["login"] == "esd-test"


def test_an_environment_secret_from_the_environment_and_skip_secrets() -> None:
    text = account_text(
        LIVE,
        TEST.replace('password = "test-pw-2"', 'password = { env = "ESD_TEST_PW" }'),
        environment="test",
    )
    config = parsed(text, {"ESD_TEST_PW": "from-env-3"})
    assert config.accounts["a"].credentials["password"] == "from-env-3"
    # An admin shell without the service's environment: the form is checked, not the value,
    # and the unread password is not reported missing by the provider's check either.
    parse_config(text, file="t.toml", environ={}, skip_secrets=True)


# --- bad cases: each at its key path ------------------------------------------------------------

BAD_CASES: list[tuple[str, str, str, str]] = [
    # (id, text, the one key path reported, a fragment of its message)
    (
        "switch not test or live",
        account_text(LIVE, TEST, environment="staging"),
        "accounts.a.environment",
        "expected one of live, test",
    ),
    (
        "switched to test, one table (the live one)",
        account_text(FLAT, environment="test"),
        "accounts.a.credentials.test",
        'environment = "test" (accounts.a.environment) uses these credentials; add '
        "[accounts.a.credentials.test] (one [accounts.a.credentials] table holds the live "
        "environment's: move it to [accounts.a.credentials.live])",
    ),
    (
        "switched to test, only a live table",
        account_text(LIVE, environment="test"),
        "accounts.a.credentials.test",
        'environment = "test" (accounts.a.environment) uses these credentials',
    ),
    (
        "no switch (live), only a test table",
        account_text(TEST),
        "accounts.a.credentials.live",
        'the default environment "live" (accounts.a.environment is not set)',
    ),
    (
        "a credential beside the environment tables",
        account_text('[accounts.a.credentials]\nwebhook_secret = "beside-4"\n', LIVE),
        "accounts.a.credentials.webhook_secret",
        "a credential beside environment tables: with [accounts.a.credentials.live] or "
        "[accounts.a.credentials.test], every credential goes in the table of its environment",
    ),
    (
        "an environment that is not a table",
        account_text('[accounts.a.credentials]\ntest = "not-a-table-5"\n', LIVE),
        "accounts.a.credentials.test",
        "expected the test environment's credentials as a table",
    ),
    (
        "an environment written as a secret",
        account_text('[accounts.a.credentials]\ntest = { env = "X" }\n', LIVE),
        "accounts.a.credentials.test",
        '"test" is an environment, not a credential name',
    ),
    (
        "the environment not in use lacks a key (every table is checked)",
        account_text(LIVE, TEST.replace('password = "test-pw-2"\n', "")),
        "accounts.a.credentials.test.password",
        "required",
    ),
    (
        "the environment in use has a url without a scheme",
        account_text(
            LIVE, TEST.replace("https://mis-test.example", "mis-test.example"), environment="test"
        ),
        "accounts.a.credentials.test.url",
        "must start with http:// or https://",
    ),
    (
        "an environment's secret not resolvable: said once, by the secret reader",
        account_text(LIVE, TEST.replace('"test-pw-2"', '{ env = "ESD_NOPE" }')),
        "accounts.a.credentials.test.password",
        "environment variable ESD_NOPE is not set",
    ),
    (
        "the environment in use missing, no credentials at all (today's message)",
        account_text(),
        "accounts.a.credentials.url",
        "required",
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in BAD_CASES]
)
def test_each_environment_problem_is_reported_at_its_key_path(
    text: str, key: str, fragment: str
) -> None:
    problems = problems_of(text)
    keys = [p.key for p in problems]
    if key == "accounts.a.credentials.url":  # no credentials: every manifest key is missing
        assert keys == [
            "accounts.a.credentials.url",
            "accounts.a.credentials.login",
            "accounts.a.credentials.password",
        ], problems
    else:
        assert keys == [key], problems
    assert fragment in problems[0].message, problems[0].message
    for secret in ("live-pw-1", "test-pw-2", "beside-4", "not-a-table-5"):
        assert secret not in str(ConfigError(problems)) + repr(problems), secret


def test_no_secret_of_any_environment_in_a_provider_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A provider check that quotes every value it is given: both environments' are scrubbed.
    def quoting(provider: str, credentials: Mapping[str, str]) -> list[tuple[str, str]]:
        return [("password", "refused: " + " / ".join(credentials.values()))]

    monkeypatch.setattr(registry, "credentials_problems", quoting)
    text = account_text(
        LIVE, TEST.replace('"test-pw-2"', '{ env = "ESD_TEST_PW" }'), environment="test"
    )
    problems = problems_of(text, {"ESD_TEST_PW": "env-test-pw-6"})
    assert [p.key for p in problems] == [
        "accounts.a.credentials.live.password",
        "accounts.a.credentials.test.password",
    ]
    everything = str(ConfigError(problems)) + repr(problems)
    for secret in ("live-pw-1", "env-test-pw-6"):
        assert secret not in everything, secret
    assert all("<secret>" in p.message for p in problems)


# --- storefront credential keys: the plug-in's to declare ---------------------------------------

STOREFRONT = """
[storefronts.main]
provider = "pressero"
url = "https://admin.shop.example"
[storefronts.main.credentials]
username = "api-user"
password = "pressero-pass-7"
subscriber_id = "sub-0001"
"""


def test_pressero_declares_its_credential_keys_and_which_identify() -> None:
    config = parsed(STOREFRONT)
    storefront = config.storefronts["main"]
    assert storefront.credentials["password"] == "pressero-pass-7"
    # username and subscriber_id identify (Pressero's plug-in says so): never scrubbed
    assert storefront.public_credential_keys >= {"username", "subscriber_id"}
    assert config.secrets() == {"pressero-pass-7"}
    assert ("api-user", "pressero-pass-7") in config.logins()


@pytest.mark.parametrize(
    ("change", "key", "fragment"),
    [
        (
            ('password = "pressero-pass-7"\n', ""),
            "storefronts.main.credentials.password",
            "required",
        ),
        (('username = "api-user"\n', ""), "storefronts.main.credentials.username", "required"),
        (
            ('subscriber_id = "sub-0001"', 'subscriber_id = ""'),
            "storefronts.main.credentials.subscriber_id",
            "expected a non-empty id",
        ),
        (
            ('password = "pressero-pass-7"', 'password = { env = "ESD_NOPE" }'),
            "storefronts.main.credentials.password",
            "ESD_NOPE is not set",  # said once, not again as missing
        ),
    ],
    ids=["no password", "no username", "empty subscriber id", "unset variable said once"],
)
def test_pressero_credential_problems_at_their_key_paths(
    change: tuple[str, str], key: str, fragment: str
) -> None:
    problems = problems_of(STOREFRONT.replace(*change))
    assert [p.key for p in problems] == [key], problems
    assert fragment in problems[0].message
    assert "pressero-pass-7" not in str(ConfigError(problems))


def test_config_asks_the_plug_in_which_keys_a_storefront_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A storefront whose API takes a token: the core requires what its spec declares, and
    # nothing of Pressero's (no username, no password).
    real = storefront_registry.spec("pressero")

    def token_storefront(name: str) -> StorefrontSpec:
        return dataclasses.replace(
            real,
            credential_keys=("token",),
            credentials_problems=None,
            public_credential_keys=frozenset(),
        )

    monkeypatch.setattr(storefront_registry, "spec", token_storefront)
    text = '[storefronts.main]\nprovider = "pressero"\nurl = "https://api.example"\n'
    (problem,) = problems_of(text + "[storefronts.main.credentials]\n")
    assert problem.key == "storefronts.main.credentials.token"
    assert "required" in problem.message
    config = parsed(text + '[storefronts.main.credentials]\ntoken = "tok-8"\n')
    assert config.secrets() == {"tok-8"}


def test_a_storefront_check_quoting_a_secret_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    def quoting(name: str, credentials: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [("password", f"refused {credentials.get('password')}")]

    monkeypatch.setattr(storefront_registry, "credentials_problems", quoting)
    (problem,) = problems_of(STOREFRONT)
    assert problem.key == "storefronts.main.credentials.password"
    assert "pressero-pass-7" not in problem.message and "<secret>" in problem.message


# --- the example file's environments block ------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "esd.toml"


def test_the_examples_environment_block_validates_when_uncommented() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = lines.index("# [accounts.pace-main]")
    block: list[str] = []
    for line in lines[start:]:
        if not line.startswith("# "):
            break
        block.append(line.removeprefix("# "))
    environ = {
        "ESD_PACE_TEST_PASSWORD": "pace-test-password-2",
        "ESD_PACE_LIVE_PASSWORD": "pace-live-password-5",
    }
    config = parsed("\n".join(block) + "\n", environ)
    account = config.accounts["pace-main"]
    assert account.environment == "test"
    assert account.credentials["url"] == "https://pace-test.printshop.example"
    assert account.credentials_of("live") is not None
    assert config.secrets() == set(environ.values())


def test_the_examples_tharstern_block_validates_when_uncommented() -> None:
    # The example's Tharstern account (seeds 000 and 002): a test and a live environment, the
    # switch on test, both checked against the provider's credential keys and settings.
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = lines.index("# [accounts.tharstern-main]")
    block: list[str] = []
    for line in lines[start:]:
        if not line.startswith("# "):
            break
        block.append(line.removeprefix("# "))
    environ = {
        "ESD_THARSTERN_TEST_PASSWORD": "th-test-password-6",
        "ESD_THARSTERN_LIVE_PASSWORD": "th-live-password-7",
        "ESD_THARSTERN_WEBHOOK_SECRET": "th-webhook-secret-8",
    }
    config = parsed("\n".join(block) + "\n", environ)
    account = config.accounts["tharstern-main"]
    assert account.provider == "tharstern" and account.environment == "test"
    assert account.credentials["password"] == "th-test-password-6"
    assert account.credentials["webhook_secret"] == "th-webhook-secret-8"
