"""daemon.config: the example validates, every bad value is reported at its key path, secrets
resolve from env and systemd credentials and never show in a repr or an error."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.config import (
    DEFAULT_CONFIG_PATH,
    Account,
    Config,
    RetryPolicy,
    Site,
    check_config,
    load_config,
    parse_config,
)
from daemon.errors import ConfigError, ConfigProblem
from daemon.providers import registry

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "esd.toml"
EXAMPLE_ENV = {
    "ESD_PACE_TEST_PASSWORD": "pace-test-password-2",
    "ESD_SITE_KEY": "site-security-key-3",
    "ESD_PRESSERO_PASSWORD": "pressero-password-4",
    "ESD_PACE_LIVE_PASSWORD": "pace-live-password-5",
}

# The smallest config with one account activated live on one site.
ACCOUNT = """
[accounts.a]
provider = "reference"
"""
SITE = """
[sites.s]
name = "Shop"
[[sites.s.activations]]
account = "a"
is_live = true
"""


@pytest.fixture
def real_provider() -> None:
    """Request this to validate provider settings with the real registry, not the stub."""


@pytest.fixture(autouse=True)
def _stub_provider(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    # Unit tests here are about config.py; the reference driver's own settings rules are the
    # driver's tests' business.
    if "real_provider" not in request.fixturenames:
        monkeypatch.setattr(registry, "settings_problems", lambda provider, settings: [])
        monkeypatch.setattr(registry, "credentials_problems", lambda provider, credentials: [])


def problems_of(text: str, environ: Mapping[str, str] | None = None) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, file="t.toml", environ={} if environ is None else environ)
    assert caught.value.problems, "ConfigError without problems"
    return caught.value.problems


def messages_at(problems: list[ConfigProblem], key: str) -> list[str]:
    return [p.message for p in problems if p.key == key]


# --- the example file ---------------------------------------------------------------------------


def test_example_file_validates(real_provider: None) -> None:
    config = load_config(EXAMPLE, environ=EXAMPLE_ENV)

    assert config.path == EXAMPLE
    assert set(config.accounts) == {"pace-test", "pace-live"}
    assert config.accounts["pace-live"].credentials["password"] == "pace-live-password-5"
    site = config.site("printshop")
    assert site.name == "Print Shop Online"
    assert site.settings["security_key"] == "site-security-key-3"
    assert site.live_accounts() == ("pace-live",)
    assert [a.account for a in site.activations] == ["pace-live", "pace-test"]
    assert check_config(EXAMPLE, environ=EXAMPLE_ENV) == []


def test_example_accounts_are_named_after_the_provider_they_use() -> None:
    # A copy of the example must not push into a fake: an account named after one MIS uses
    # that MIS, and the example's live activations are real providers, never the reference.
    config = load_config(EXAMPLE, environ=EXAMPLE_ENV)
    providers = set(registry.PROVIDERS) | {"tharstern", "presswise", "infigo", "pressero"}
    for name, account in config.accounts.items():
        named_after = {p for p in providers if p in name.replace("_", "-").split("-")}
        assert named_after <= {account.provider}, (name, account.provider)
    live = {a for site in config.sites.values() for a in site.live_accounts()}
    assert live and all(config.accounts[a].provider != "reference" for a in live)


def test_example_file_names_each_missing_variable() -> None:
    problems = check_config(EXAMPLE, environ={})

    assert {(p.file, p.key) for p in problems} == {
        (str(EXAMPLE), "accounts.pace-test.credentials.password"),
        (str(EXAMPLE), "sites.printshop.security_key"),
        (str(EXAMPLE), "storefronts.pressero.credentials.password"),
        (str(EXAMPLE), "accounts.pace-live.credentials.password"),
    }
    assert "ESD_SITE_KEY" in messages_at(problems, "sites.printshop.security_key")[0]


# --- defaults and systemd directories -----------------------------------------------------------


def test_empty_file_gives_every_default() -> None:
    config = parse_config("", environ={})

    assert config.path is None
    daemon = config.daemon
    assert daemon.state_dir == Path("/var/lib/esd")
    assert daemon.database == Path("/var/lib/esd/esd.sqlite3")
    assert daemon.socket == Path("/run/esd/esd.sock")
    assert daemon.socket_mode == 0o660
    assert daemon.log_level == "info"
    assert daemon.drain_seconds == 20.0
    assert daemon.watchdog is True
    assert daemon.operator_idle_seconds == 60.0
    assert config.retry == RetryPolicy(30.0, 2.0, 3600.0, 86400.0, 0.2)
    webhook = config.listeners["webhook"]
    assert (webhook.address, webhook.port, webhook.max_body_bytes, webhook.enabled) == (
        "127.0.0.1",
        8780,
        1048576,
        True,
    )
    limits = (
        webhook.idle_timeout_seconds,
        webhook.header_timeout_seconds,
        webhook.max_connections,
        webhook.reserved_fds,
    )
    assert limits == (30.0, 10.0, 512, 256)
    assert dict(config.accounts) == {} and dict(config.sites) == {}
    assert config.secrets() == frozenset()
    assert Path("/etc/esd/esd.toml") == DEFAULT_CONFIG_PATH


def test_account_and_activation_defaults() -> None:
    config = parse_config(ACCOUNT + "[sites.s]\n[[sites.s.activations]]\naccount = 'a'\n")

    account = config.accounts["a"]
    assert (account.concurrency, account.rate_per_second, account.status_poll_seconds) == (
        4,
        10.0,
        300.0,
    )
    assert dict(account.credentials) == {} and dict(account.settings) == {}
    site = config.sites["s"]
    assert site.name == "s" and site.settings["security_key"] is None
    (activation,) = site.activations
    assert (activation.enable, activation.is_live) == (True, False)
    assert site.live_accounts() == ()


@pytest.mark.parametrize(
    ("text", "environ", "state_dir", "database", "socket"),
    [
        pytest.param(
            "",
            {"STATE_DIRECTORY": "/srv/esd", "RUNTIME_DIRECTORY": "/run/esd-x"},
            "/srv/esd",
            "/srv/esd/esd.sqlite3",
            "/run/esd-x/esd.sock",
            id="systemd env beats defaults",
        ),
        pytest.param(
            "",
            {"STATE_DIRECTORY": "/srv/one:/srv/two", "RUNTIME_DIRECTORY": "/run/a:/run/b"},
            "/srv/one",
            "/srv/one/esd.sqlite3",
            "/run/a/esd.sock",
            id="first of several systemd directories",
        ),
        pytest.param(
            '[daemon]\nstate_dir = "/data/esd"\nsocket = "/tmp/x/esd.sock"\n',
            {"STATE_DIRECTORY": "/srv/esd", "RUNTIME_DIRECTORY": "/run/esd-x"},
            "/data/esd",
            "/data/esd/esd.sqlite3",
            "/tmp/x/esd.sock",
            id="explicit values beat systemd env",
        ),
        pytest.param(
            '[daemon]\ndatabase = "/elsewhere/db.sqlite3"\n',
            {"STATE_DIRECTORY": "/srv/esd"},
            "/srv/esd",
            "/elsewhere/db.sqlite3",
            "/run/esd/esd.sock",
            id="absolute database stays; no RUNTIME_DIRECTORY",
        ),
        pytest.param(
            '[daemon]\ndatabase = "sub/db.sqlite3"\n',
            {"STATE_DIRECTORY": ""},
            "/var/lib/esd",
            "/var/lib/esd/sub/db.sqlite3",
            "/run/esd/esd.sock",
            id="empty STATE_DIRECTORY is ignored",
        ),
        pytest.param(
            '[daemon]\nstate_dir = "/data/esd"\nsocket = "/data/esd.sock"\n',
            {"STATE_DIRECTORY": "not/absolute", "RUNTIME_DIRECTORY": "not/absolute"},
            "/data/esd",
            "/data/esd/esd.sqlite3",
            "/data/esd.sock",
            id="systemd env is not even read when the file decides",
        ),
    ],
)
def test_state_and_runtime_directories(
    text: str, environ: dict[str, str], state_dir: str, database: str, socket: str
) -> None:
    daemon = parse_config(text, environ=environ).daemon

    assert (daemon.state_dir, daemon.database, daemon.socket) == (
        Path(state_dir),
        Path(database),
        Path(socket),
    )
    assert daemon.database.is_absolute()


def test_environ_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", "/from/os/environ")
    monkeypatch.setenv("ESD_TEST_SECRET", "os-env-secret")
    text = ACCOUNT + '[accounts.a.credentials]\ntoken = { env = "ESD_TEST_SECRET" }\n'

    config = parse_config(text)

    assert config.daemon.state_dir == Path("/from/os/environ")
    assert config.accounts["a"].credentials["token"] == "os-env-secret"


def test_full_values_are_read() -> None:
    text = """
[daemon]
socket_mode = "660"
log_level = "debug"
drain_seconds = 2.5
watchdog = false
[retry]
initial_seconds = 1
multiplier = 1
max_seconds = 1
give_up_after_seconds = 1
jitter = 0
[listeners.webhook]
address = "::1"
port = 0
max_body_bytes = 1
enabled = false
idle_timeout_seconds = 0.5
header_timeout_seconds = 2
max_connections = 3
reserved_fds = 64
[accounts.a]
provider = "reference"
concurrency = 1
rate_per_second = 0.5
status_poll_seconds = 10
[accounts.a.settings]
nested = { list = [1, 2], name = "x" }
[sites."shop.example.com"]
[[sites."shop.example.com".activations]]
account = "a"
enable = false
[sites."shop.example.com".activations.settings]
mode = "test"
"""
    config = parse_config(text, environ={})

    assert config.daemon.socket_mode == 0o660
    assert (config.daemon.log_level, config.daemon.drain_seconds) == ("debug", 2.5)
    assert config.daemon.watchdog is False
    assert config.retry == RetryPolicy(1.0, 1.0, 1.0, 1.0, 0.0)
    assert config.listeners["webhook"].address == "::1"
    assert config.listeners["webhook"].port == 0
    assert config.listeners["webhook"].enabled is False
    listener = config.listeners["webhook"]
    assert (listener.idle_timeout_seconds, listener.header_timeout_seconds) == (0.5, 2.0)
    assert (listener.max_connections, listener.reserved_fds) == (3, 64)
    account = config.accounts["a"]
    assert (account.concurrency, account.rate_per_second, account.status_poll_seconds) == (
        1,
        0.5,
        10.0,
    )
    assert account.settings["nested"] == {"list": [1, 2], "name": "x"}
    activation = config.sites["shop.example.com"].activations[0]
    assert (activation.enable, activation.is_live) == (False, False)
    assert activation.settings["mode"] == "test"


def test_config_is_read_only() -> None:
    config = parse_config(ACCOUNT + SITE, environ={})

    with pytest.raises(TypeError):
        config.accounts["b"] = config.accounts["a"]  # type: ignore[index]
    with pytest.raises(TypeError):
        config.accounts["a"].settings["k"] = 1  # type: ignore[index]
    with pytest.raises(AttributeError):
        config.daemon = config.daemon  # type: ignore[misc]


def test_live_accounts_keeps_only_enabled_and_live() -> None:
    text = """
[accounts.a]
provider = "reference"
[accounts.b]
provider = "reference"
[accounts.c]
provider = "reference"
[sites.s]
[[sites.s.activations]]
account = "c"
is_live = true
[[sites.s.activations]]
account = "a"
enable = true
is_live = false
[[sites.s.activations]]
account = "b"
enable = false
"""

    assert parse_config(text, environ={}).sites["s"].live_accounts() == ("c",)


def test_site_lookup() -> None:
    config = parse_config(ACCOUNT + SITE, environ={})

    assert config.site("s").name == "Shop"
    with pytest.raises(ConfigError) as caught:
        config.site("nope.example.com")
    (problem,) = caught.value.problems
    assert problem.key == 'sites."nope.example.com"'
    assert "unknown site" in problem.message and "s" in problem.message


# --- every kind of error, at its key path ------------------------------------------------------

ERROR_CASES: list[tuple[str, str, str, str]] = [
    # (id, text, key path, a fragment of the message)
    ("unknown top-level key", "[bogus]\n", "bogus", "unknown key"),
    ("unknown daemon key", "[daemon]\nsocket_mod = '0660'\n", "daemon.socket_mod", "socket_mode"),
    ("daemon not a table", "daemon = 5\n", "daemon", "expected a table, got 5"),
    ("relative state_dir", "[daemon]\nstate_dir = 'var'\n", "daemon.state_dir", "absolute"),
    ("empty database", "[daemon]\ndatabase = ''\n", "daemon.database", 'got ""'),
    ("socket not a string", "[daemon]\nsocket = 1\n", "daemon.socket", "absolute path, got 1"),
    (
        "socket path too long",
        f"[daemon]\nsocket = '/{'x' * 120}'\n",
        "daemon.socket",
        "at most 107 bytes, got 121 bytes",
    ),
    (
        "socket_mode as integer",
        "[daemon]\nsocket_mode = 660\n",
        "daemon.socket_mode",
        'expected an octal string such as "0660", got 660',
    ),
    ("socket_mode not octal", "[daemon]\nsocket_mode = '0999'\n", "daemon.socket_mode", "0999"),
    (
        "log_level unknown",
        "[daemon]\nlog_level = 'loud'\n",
        "daemon.log_level",
        'expected one of debug, info, warning, error, got "loud"',
    ),
    ("negative drain", "[daemon]\ndrain_seconds = -1\n", "daemon.drain_seconds", ">= 0, got -1"),
    ("watchdog string", "[daemon]\nwatchdog = 'yes'\n", "daemon.watchdog", "true or false"),
    (
        "zero operator idle",
        "[daemon]\noperator_idle_seconds = 0\n",
        "daemon.operator_idle_seconds",
        "> 0, got 0",
    ),
    ("unknown retry key", "[retry]\ninitial = 1\n", "retry.initial", "initial_seconds"),
    ("zero initial", "[retry]\ninitial_seconds = 0\n", "retry.initial_seconds", "> 0, got 0"),
    ("multiplier < 1", "[retry]\nmultiplier = 0.5\n", "retry.multiplier", ">= 1, got 0.5"),
    ("max below initial", "[retry]\nmax_seconds = 10\n", "retry.max_seconds", ">= 30, got 10"),
    (
        "give up before first retry",
        "[retry]\ngive_up_after_seconds = 5\n",
        "retry.give_up_after_seconds",
        ">= 30",
    ),
    ("jitter above 1", "[retry]\njitter = 1.5\n", "retry.jitter", "from 0 to 1, got 1.5"),
    ("jitter nan", "[retry]\njitter = nan\n", "retry.jitter", "finite"),
    ("infinite max", "[retry]\nmax_seconds = inf\n", "retry.max_seconds", "got inf"),
    ("bool as number", "[retry]\nmultiplier = true\n", "retry.multiplier", "got true"),
    ("unknown listener", "[listeners.admin]\nport = 1\n", "listeners.admin", "webhook"),
    (
        "port out of range",
        "[listeners.webhook]\nport = 70000\n",
        "listeners.webhook.port",
        "expected an integer from 0 to 65535, got 70000",
    ),
    ("port as string", "[listeners.webhook]\nport = '8780'\n", "listeners.webhook.port", '"8780"'),
    ("port as float", "[listeners.webhook]\nport = 80.0\n", "listeners.webhook.port", "80.0"),
    (
        "bad address",
        "[listeners.webhook]\naddress = 'not an address'\n",
        "listeners.webhook.address",
        "IP address or host name",
    ),
    (
        "zero body size",
        "[listeners.webhook]\nmax_body_bytes = 0\n",
        "listeners.webhook.max_body_bytes",
        ">= 1, got 0",
    ),
    ("unknown listener key", "[listeners.webhook]\nhost = 'x'\n", "listeners.webhook.host", ""),
    (
        "zero idle timeout",
        "[listeners.webhook]\nidle_timeout_seconds = 0\n",
        "listeners.webhook.idle_timeout_seconds",
        "expected a finite number > 0, got 0",
    ),
    (
        "header timeout as word",
        "[listeners.webhook]\nheader_timeout_seconds = 'soon'\n",
        "listeners.webhook.header_timeout_seconds",
        'got "soon"',
    ),
    (
        "zero connections",
        "[listeners.webhook]\nmax_connections = 0\n",
        "listeners.webhook.max_connections",
        "expected an integer >= 1, got 0",
    ),
    (
        "tiny descriptor reserve",
        "[listeners.webhook]\nreserved_fds = 4\n",
        "listeners.webhook.reserved_fds",
        "expected an integer >= 16, got 4",
    ),
    ("account not a table", "[accounts]\na = 1\n", "accounts.a", "expected a table"),
    (
        "bad account name",
        "[accounts.'a:b']\nprovider = 'reference'\n",
        'accounts."a:b"',
        "account name",
    ),
    ("missing provider", "[accounts.a]\n", "accounts.a.provider", "required"),
    (
        "unknown provider",
        "[accounts.a]\nprovider = 'presswise'\n",
        "accounts.a.provider",
        'unknown provider "presswise"; known: pace, reference, tharstern',
    ),
    (
        "concurrency as word",
        ACCOUNT + "concurrency = 'four'\n",
        "accounts.a.concurrency",
        'expected an integer >= 1, got "four"',
    ),
    ("zero concurrency", ACCOUNT + "concurrency = 0\n", "accounts.a.concurrency", "got 0"),
    ("zero rate", ACCOUNT + "rate_per_second = 0\n", "accounts.a.rate_per_second", "> 0"),
    ("fast poll", ACCOUNT + "status_poll_seconds = 5\n", "accounts.a.status_poll_seconds", ">= 10"),
    ("unknown account key", ACCOUNT + "timeout = 5\n", "accounts.a.timeout", "unknown key"),
    ("credentials not a table", ACCOUNT + "credentials = 'x'\n", "accounts.a.credentials", ""),
    ("settings not a table", ACCOUNT + "settings = [1]\n", "accounts.a.settings", "an array"),
    (
        "credential of wrong type",
        ACCOUNT + "credentials = { password = 5 }\n",
        "accounts.a.credentials.password",
        "expected a string or {env=...} or {credential=...}",
    ),
    (
        "credential with two sources",
        ACCOUNT + "credentials = { password = { env = 'A', credential = 'b' } }\n",
        "accounts.a.credentials.password",
        "expected a string or {env=...} or {credential=...}",
    ),
    (
        "credential unknown source",
        ACCOUNT + "credentials = { password = { file = '/etc/x' } }\n",
        "accounts.a.credentials.password",
        "expected a string or {env=...} or {credential=...}",
    ),
    (
        "missing env var",
        ACCOUNT + "credentials = { password = { env = 'ESD_NOT_SET' } }\n",
        "accounts.a.credentials.password",
        "environment variable ESD_NOT_SET is not set",
    ),
    (
        "env name not a string",
        ACCOUNT + "credentials = { password = { env = 1 } }\n",
        "accounts.a.credentials.password",
        "environment variable",
    ),
    (
        "credential without CREDENTIALS_DIRECTORY",
        ACCOUNT + "credentials = { password = { credential = 'pace-password' } }\n",
        "accounts.a.credentials.password",
        "credential 'pace-password' needs $CREDENTIALS_DIRECTORY",
    ),
    (
        "credential name with a path",
        ACCOUNT + "credentials = { password = { credential = '../../etc/shadow' } }\n",
        "accounts.a.credentials.password",
        "plain file name",
    ),
    ("sites not a table", "sites = [1]\n", "sites", "expected a table"),
    ("bad site key", "[sites.'a b']\n", 'sites."a b"', "site id"),
    ("site name not a string", "[sites.s]\nname = 5\n", "sites.s.name", "non-empty string"),
    ("unknown site key", "[sites.s]\nactivation = []\n", "sites.s.activation", "activations"),
    (
        "missing security key env",
        "[sites.s]\nsecurity_key = { env = 'ESD_NO_KEY' }\n",
        "sites.s.security_key",
        "ESD_NO_KEY",
    ),
    (
        "activations not an array",
        "[sites.s]\nactivations = 'a'\n",
        "sites.s.activations",
        "expected an array of tables",
    ),
    ("activation not a table", "[sites.s]\nactivations = [1]\n", "sites.s.activations[0]", ""),
    (
        "activation missing account",
        "[sites.s]\n[[sites.s.activations]]\nenable = true\n",
        "sites.s.activations[0].account",
        "required",
    ),
    (
        "activation of unknown account",
        ACCOUNT + "[sites.s]\n[[sites.s.activations]]\naccount = 'ghost'\n",
        "sites.s.activations[0].account",
        'unknown account "ghost"; expected one of: a',
    ),
    (
        "same account twice",
        ACCOUNT + SITE + "[[sites.s.activations]]\naccount = 'a'\n",
        "sites.s.activations[1].account",
        "already activated on this site at sites.s.activations[0]",
    ),
    (
        "live but not enabled",
        ACCOUNT
        + "[sites.s]\n[[sites.s.activations]]\naccount = 'a'\nenable = false\nis_live = true\n",
        "sites.s.activations[0].is_live",
        "needs enable = true",
    ),
    (
        "is_live not a bool",
        ACCOUNT + "[sites.s]\n[[sites.s.activations]]\naccount = 'a'\nis_live = 1\n",
        "sites.s.activations[0].is_live",
        "true or false, got 1",
    ),
    (
        "unknown activation key",
        ACCOUNT + "[sites.s]\n[[sites.s.activations]]\naccount = 'a'\nlive = true\n",
        "sites.s.activations[0].live",
        "is_live",
    ),
    (
        "activation settings not a table",
        ACCOUNT + "[sites.s]\n[[sites.s.activations]]\naccount = 'a'\nsettings = 1\n",
        "sites.s.activations[0].settings",
        "expected a table",
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in ERROR_CASES]
)
def test_each_error_is_reported_at_its_key_path(text: str, key: str, fragment: str) -> None:
    problems = problems_of(text)

    assert [p.key for p in problems] == [key], problems
    assert fragment in problems[0].message
    assert problems[0].file == "t.toml"


def test_unknown_key_suggests_the_close_one() -> None:
    (problem,) = problems_of("[daemon]\nlog_levl = 'info'\n")

    assert problem.message.startswith('unknown key (did you mean "log_level"?)')


def test_several_problems_are_reported_together() -> None:
    text = """
bogus = 1
[daemon]
log_level = "loud"
[retry]
jitter = -0.1
[accounts.a]
provider = "nope"
concurrency = 0
[accounts.b]
provider = "reference"
credentials = { password = { env = "ESD_MISSING" } }
[sites.s]
[[sites.s.activations]]
account = "b"
enable = false
is_live = true
[[sites.s.activations]]
account = "ghost"
"""
    problems = problems_of(text)

    assert [p.key for p in problems] == [
        "bogus",
        "daemon.log_level",
        "retry.jitter",
        "accounts.a.provider",
        "accounts.a.concurrency",
        "accounts.b.credentials.password",
        "sites.s.activations[0].is_live",
        "sites.s.activations[1].account",
    ]
    text_of_error = str(ConfigError(problems))
    assert text_of_error.count("\n") == len(problems) - 1
    assert "t.toml:retry.jitter: expected a finite number from 0 to 1, got -0.1" in text_of_error


def test_activation_of_an_account_with_errors_is_not_also_unknown() -> None:
    # accounts.a is present but broken: only its own problem is reported.
    text = "[accounts.a]\nprovider = 'nope'\n" + SITE

    assert [p.key for p in problems_of(text)] == ["accounts.a.provider"]


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"STATE_DIRECTORY": "relative/dir"}, "daemon.state_dir"),
        ({"RUNTIME_DIRECTORY": "relative/run"}, "daemon.socket"),
        ({"RUNTIME_DIRECTORY": "/" + "r" * 100}, "daemon.socket"),
    ],
)
def test_bad_systemd_directories_are_reported(environ: dict[str, str], key: str) -> None:
    assert [p.key for p in problems_of("", environ)] == [key]


# --- provider settings ------------------------------------------------------------------------


def test_provider_settings_problems_are_prefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def settings_problems(provider: str, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
        seen.append((provider, dict(settings)))
        return [("company", "expected a string"), ("", "needs a company or a url")]

    monkeypatch.setattr(registry, "settings_problems", settings_problems)

    problems = problems_of(ACCOUNT + "[accounts.a.settings]\ncompany = 1\n")

    assert seen == [("reference", {"company": 1})]
    assert [(p.key, p.message) for p in problems] == [
        ("accounts.a.settings.company", "expected a string"),
        ("accounts.a.settings", "needs a company or a url"),
    ]


def test_unknown_provider_is_not_handed_to_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    def settings_problems(provider: str, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
        raise AssertionError("called for an unknown provider")

    monkeypatch.setattr(registry, "settings_problems", settings_problems)

    (problem,) = problems_of("[accounts.a]\nprovider = 'presswise'\n")
    assert problem.key == "accounts.a.provider"


@pytest.mark.parametrize(
    "missing", ["daemon.providers.reference", "daemon.providers.reference.driver"]
)
def test_missing_provider_module_means_settings_are_not_checked_yet(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    def settings_problems(provider: str, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
        raise ModuleNotFoundError(f"No module named {missing!r}", name=missing)

    monkeypatch.setattr(registry, "settings_problems", settings_problems)

    config = parse_config(ACCOUNT + "[accounts.a.settings]\nanything = 1\n", environ={})
    assert config.accounts["a"].settings["anything"] == 1


def test_missing_provider_dependency_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    def settings_problems(provider: str, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
        raise ModuleNotFoundError("No module named 'zeep'", name="zeep")

    monkeypatch.setattr(registry, "settings_problems", settings_problems)

    (problem,) = problems_of(ACCOUNT)
    assert problem.key == "accounts.a.provider"
    assert "cannot be loaded" in problem.message and "zeep" in problem.message


def test_real_registry_problems_are_reported(real_provider: None) -> None:
    # The wiring to the real provider: its own check runs and its keys are prefixed.
    problems = problems_of(ACCOUNT + "[accounts.a.settings]\nno_such_setting_xyz = 1\n")

    assert "accounts.a.settings.no_such_setting_xyz" in {p.key for p in problems}


# --- secrets ----------------------------------------------------------------------------------


@pytest.fixture
def credentials_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "credentials"
    directory.mkdir()
    (directory / "pace-password").write_text("from-credential-file\n", encoding="utf-8")
    (directory / "two-newlines").write_text("kept-one\n\n", encoding="utf-8")
    (directory / "no-newline").write_text("no-newline-secret", encoding="utf-8")
    (directory / "binary").write_bytes(b"\xff\xfe")
    return directory


def test_secrets_from_inline_env_and_credentials_directory(credentials_dir: Path) -> None:
    text = """
[accounts.a]
provider = "reference"
[accounts.a.credentials]
url = "http://mis.example:8790"
login = "inline-login"
password = { credential = "pace-password" }
token = { env = "ESD_TOKEN" }
extra = { credential = "two-newlines" }
bare = { credential = "no-newline" }
empty = ""
[sites.s]
security_key = { env = "ESD_SITE_KEY" }
"""
    environ = {
        "CREDENTIALS_DIRECTORY": str(credentials_dir),
        "ESD_TOKEN": "token-from-env",
        "ESD_SITE_KEY": "site-key-from-env",
    }

    config = parse_config(text, environ=environ)

    assert dict(config.accounts["a"].credentials) == {
        "url": "http://mis.example:8790",
        "login": "inline-login",
        "password": "from-credential-file",
        "token": "token-from-env",
        "extra": "kept-one\n",
        "bare": "no-newline-secret",
        "empty": "",
    }
    assert config.sites["s"].settings["security_key"] == "site-key-from-env"
    # The address and the login identify; they are not scrubbed (PUBLIC_CREDENTIAL_KEYS).
    assert config.secrets() == {
        "from-credential-file",
        "token-from-env",
        "kept-one\n",
        "no-newline-secret",
        "site-key-from-env",
    }
    # each secret of a credential with a login, paired with it (Basic and AUTH PLAIN encodings)
    assert config.logins() == {
        ("inline-login", "from-credential-file"),
        ("inline-login", "token-from-env"),
        ("inline-login", "kept-one\n"),
        ("inline-login", "no-newline-secret"),
    }


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("absent", "cannot read credential 'absent' in $CREDENTIALS_DIRECTORY: No such file"),
        ("binary", "credential 'binary' is not UTF-8 text"),
    ],
)
def test_unreadable_credentials_are_reported(
    credentials_dir: Path, name: str, fragment: str
) -> None:
    text = ACCOUNT + f"credentials = {{ password = {{ credential = '{name}' }} }}\n"

    (problem,) = problems_of(text, {"CREDENTIALS_DIRECTORY": str(credentials_dir)})

    assert problem.key == "accounts.a.credentials.password"
    assert fragment in problem.message


SECRETS = ("inline-hunter2", "env-hunter2", "file-hunter2", "site-hunter2", "late-site-hunter2")


@pytest.fixture
def secret_config_text(credentials_dir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    (credentials_dir / "pw").write_text("file-hunter2\n", encoding="utf-8")
    text = """
[accounts.a]
provider = "reference"
concurrency = "four"
[accounts.a.credentials]
password = "inline-hunter2"
token = { env = "ESD_TOKEN" }
key = { credential = "pw" }
bad_list = ["list-hunter2"]
bad_number = 987654321
bad_table = { env = "ESD_TOKEN", also = "table-hunter2" }
bad_source = { file = "source-hunter2" }
bad_env = { env = ["envname-hunter2"] }
[sites.s]
security_key = { env = "ESD_SITE" }
[[sites.s.activations]]
account = "a"
[sites.t]
security_key = "late-site-hunter2"
"""
    environ = {
        "CREDENTIALS_DIRECTORY": str(credentials_dir),
        "ESD_TOKEN": "env-hunter2",
        "ESD_SITE": "site-hunter2",
    }
    yield text, environ


def test_no_secret_in_any_error_message(
    secret_config_text: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A provider quoting every secret, including the site keys read after it ran.
    def settings_problems(provider: str, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [("url", f"cannot use {' or '.join(SECRETS)}")]

    monkeypatch.setattr(registry, "settings_problems", settings_problems)
    text, environ = secret_config_text

    problems = problems_of(text, environ)

    assert {p.key for p in problems} >= {
        "accounts.a.concurrency",
        "accounts.a.credentials.bad_list",
        "accounts.a.credentials.bad_number",
        "accounts.a.credentials.bad_table",
        "accounts.a.credentials.bad_source",
        "accounts.a.credentials.bad_env",
        "accounts.a.settings.url",
    }
    everything = str(ConfigError(problems)) + repr(problems)
    leaks = ("list-hunter2", "987654321", "table-hunter2", "source-hunter2", "envname-hunter2")
    for secret in (*SECRETS, *leaks):
        assert secret not in everything, secret
    assert "<secret>" in messages_at(problems, "accounts.a.settings.url")[0]


def test_no_secret_in_repr_or_str(secret_config_text: tuple[str, dict[str, str]]) -> None:
    text, environ = secret_config_text
    valid = "\n".join(
        line for line in text.splitlines() if not line.startswith(("bad_", "concurrency = "))
    )

    config = parse_config(valid, environ=environ)

    assert config.secrets() == set(SECRETS)
    account = config.accounts["a"]
    site = config.sites["s"]
    for shown in (repr(config), str(config), repr(account), str(account), repr(site), str(site)):
        for secret in SECRETS:
            assert secret not in shown, secret
    assert "credentials=<keys: key, password, token>" in repr(account)
    assert "security_key=<hidden>" in repr(site)
    no_key = Site(
        "k", "n", (), settings={"security_key": None}, secret_settings=frozenset({"security_key"})
    )
    assert "security_key=None" in repr(no_key)
    assert "credentials=<keys: none>" in repr(
        Account("a", "reference", 1, 1.0, 10.0, {}, {})  # a hand-built one, too
    )


# --- files ------------------------------------------------------------------------------------


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "esd.toml"
    path.write_text(ACCOUNT + SITE, encoding="utf-8")

    config = load_config(path, environ={})

    assert isinstance(config, Config)
    assert config.path == path
    assert config.sites["s"].live_accounts() == ("a",)


def test_problems_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "esd.toml"
    path.write_text("[daemon]\nwatchdog = 1\n", encoding="utf-8")

    assert check_config(path, environ={}) == [
        ConfigProblem(str(path), "daemon.watchdog", "expected true or false, got 1")
    ]


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        pytest.param(lambda p: None, "cannot read the file: No such file", id="missing"),
        pytest.param(lambda p: p.mkdir(), "cannot read the file: Is a directory", id="directory"),
        pytest.param(lambda p: p.write_bytes(b"a = '\xff'\n"), "not UTF-8", id="not utf-8"),
    ],
)
def test_unreadable_file_is_one_problem(tmp_path: Path, make: Any, fragment: str) -> None:
    path = tmp_path / "esd.toml"
    make(path)

    (problem,) = check_config(path, environ={})

    assert (problem.file, problem.key) == (str(path), "")
    assert fragment in problem.message


def test_toml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "esd.toml"
    path.write_text('[daemon]\nlog_level = "info"\nwatchdog = \n', encoding="utf-8")

    (problem,) = check_config(path, environ={})

    assert problem.file == str(path) and problem.key == ""
    assert problem.message.startswith("TOML syntax error: ")
    assert "line 3, column" in problem.message


def test_parse_config_syntax_error_raises_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("[daemon\n", file="inline")

    (problem,) = caught.value.problems
    assert problem.file == "inline" and "line 1" in problem.message


# --- robustness -------------------------------------------------------------------------------

KEYS = st.sampled_from(
    [
        "daemon", "retry", "listeners", "accounts", "sites", "webhook", "a", "s", "provider",
        "credentials", "settings", "activations", "account", "enable", "is_live", "port",
        "address", "socket_mode", "state_dir", "jitter", "security_key", "env", "credential",
        "name", "concurrency", "max_seconds", "initial_seconds",
    ]
)  # fmt: skip
SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["reference", "a", "/abs/path", "0660", "info", "ESD_X"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)


def toml_inline(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float | str):
        return json.dumps(value)  # JSON numbers and strings are TOML numbers and strings
    if isinstance(value, list):
        return "[" + ", ".join(toml_inline(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_inline(v)}" for k, v in value.items()) + "}"


@settings(max_examples=300, deadline=None)
@given(document=st.dictionaries(KEYS, VALUES, max_size=5))
def test_any_document_gives_a_config_or_a_config_error(document: dict[str, Any]) -> None:
    text = "".join(f"{json.dumps(k)} = {toml_inline(v)}\n" for k, v in document.items())
    try:
        config = parse_config(text, environ={"ESD_X": "x"})
    except ConfigError as exc:
        assert exc.problems and all(isinstance(p, ConfigProblem) for p in exc.problems)
    else:
        assert isinstance(config, Config)


def test_credential_loaded_from_the_units_credential_directory(tmp_path: Path) -> None:
    """LoadCredential=esd:/etc/esd/credentials names each file esd_<file> (systemd.exec(5))."""
    (tmp_path / "esd_pace-password").write_text("dir-loaded\n")
    text = """
[accounts.a]
provider = "reference"
[accounts.a.credentials]
url = "http://mis.example:8790"
login = "sync"
password = { credential = "pace-password" }
[accounts.a.settings]
customer = "C100"
"""
    config = parse_config(text, environ={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert config.accounts["a"].credentials["password"] == "dir-loaded"


STOREFRONT_BASE = """
[storefronts.pressero-main]
provider = "pressero"
url = "https://admin.shop.example/"
poll_seconds = 120
[storefronts.pressero-main.credentials]
username = "api-user"
password = "pressero-pass-1"
[sites.shop]
storefront = "pressero-main"
site_id = "shop.example.com"
security_key = "site-key-9"
hash_variant = "body+key/base64"
"""


def test_storefront_and_site_storefront_settings() -> None:
    config = parse_config(STOREFRONT_BASE, environ={})
    storefront = config.storefronts["pressero-main"]
    assert (storefront.provider, storefront.url, storefront.poll_seconds) == (
        "pressero",
        "https://admin.shop.example",
        120.0,
    )
    assert storefront.poll_window_seconds == 86400.0
    site = config.sites["shop"]
    assert (site.storefront, site.settings["site_id"], site.settings["hash_variant"]) == (
        "pressero-main",
        "shop.example.com",
        "body+key/base64",
    )
    assert {"pressero-pass-1", "site-key-9"} <= config.secrets()
    assert "api-user" not in config.secrets()
    assert "pressero-pass-1" not in repr(config)


@pytest.mark.parametrize(
    ("change", "key", "fragment"),
    [
        (
            ('provider = "pressero"', 'provider = "magento"'),
            "storefronts.pressero-main.provider",
            "unknown storefront provider",
        ),
        (
            ('url = "https://admin.shop.example/"', 'url = "ftp://x"'),
            "storefronts.pressero-main.url",
            "http(s) URL",
        ),
        (
            ('storefront = "pressero-main"', 'storefront = "other"'),
            "sites.shop.storefront",
            "unknown storefront",
        ),
        (
            ('hash_variant = "body+key/base64"', 'hash_variant = "md5"'),
            "sites.shop.hash_variant",
            "expected one of",
        ),
        (
            ("poll_seconds = 120", "poll_seconds = 120\npoll_window_seconds = 100"),
            "storefronts.pressero-main.poll_window_seconds",
            "so that polls overlap",
        ),
        (
            ('username = "api-user"\n', ""),
            "storefronts.pressero-main.credentials.username",
            "required",
        ),
    ],
)
def test_storefront_problems(change: tuple[str, str], key: str, fragment: str) -> None:
    problems = problems_of(STOREFRONT_BASE.replace(*change))
    assert any(p.key == key and fragment in p.message for p in problems), problems


def test_a_pace_accounts_own_alert_emails_join_the_account_recipients() -> None:
    text = """
[accounts.pace]
provider = "pace"
alert_emails = "ops@printshop.example"
[accounts.pace.credentials]
url = "https://pace.printshop.example"
login = "esd"
password = "pace-pass-9"
[accounts.pace.settings]
alert_emails = "csr@printshop.example;ops@printshop.example"
"""
    config = parse_config(text, environ={})
    assert config.accounts["pace"].alert_emails == (
        "ops@printshop.example",
        "csr@printshop.example",
    )


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        ('url = "http://127.0.0.1:1"\nlogin = "esd"', {"password": "required"}),
        ('url = "mis.example"\nlogin = "esd"\npassword = "pw"', {"url": "http"}),
        # written but not resolvable: said once, by the secret reader, not again as missing
        (
            'url = "http://127.0.0.1:1"\nlogin = "esd"\npassword = { env = "NOPE" }',
            {"password": "NOPE is not set"},
        ),
    ],
    ids=["missing password", "url without scheme", "unset variable said once"],
)
def test_the_providers_credential_checks_run_when_the_config_loads(
    real_provider: None, credentials: str, expected: dict[str, str]
) -> None:
    text = (
        ACCOUNT
        + "[accounts.a.credentials]\n"
        + credentials
        + '\n[accounts.a.settings]\ncustomer = "C"\n'
        + SITE
    )
    problems = problems_of(text)
    assert {p.key.rpartition(".")[2]: p.message for p in problems}.keys() == expected.keys()
    for problem in problems:
        assert problem.key.startswith("accounts.a.credentials.")
        assert expected[problem.key.rpartition(".")[2]] in problem.message
