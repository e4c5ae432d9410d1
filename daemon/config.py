"""The daemon's one TOML config file: parsed, validated in full, secrets resolved.

`parse_config` reads the whole file before it gives up, so an operator sees every problem at
once, each with its dotted key path (`accounts.pace-live.concurrency`,
`sites.printshop.activations[0].account`) and what was expected. Secrets (every value under
`accounts.X.credentials` and a site's `security_key`) come inline, from the environment
(`{env = "VAR"}`) or from a systemd credential (`{credential = "name"}`, read from
`$CREDENTIALS_DIRECTORY`); no message and no repr ever shows one.

An account may give credentials for a test and a live environment (`[accounts.X.credentials.test]`
and `[accounts.X.credentials.live]`, or one `[accounts.X.credentials]` table: the live one), and
`environment` says which is in use; its driver sees only that one (`Account.credentials`).
Which credential keys an account or a storefront needs is its provider's or storefront
plug-in's to say (the provider manifest, the `StorefrontSpec`), not this module's.

systemd hands the daemon its directories in `STATE_DIRECTORY` and `RUNTIME_DIRECTORY`; those
beat the built-in defaults but never a value the operator wrote in the file.

Reference: docs/config.md (every key, type and default) and examples/esd.toml.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import difflib
import ipaddress
import json
import math
import os
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

from daemon.errors import MAX_QUOTED, ConfigError, ConfigProblem, cut, quoted
from daemon.json_text import MAX_DEPTH as MAX_JSON_DEPTH
from daemon.json_text import too_deep_message
from daemon.providers import registry
from daemon.providers.deadline import DEFAULT_CALL_DEADLINE_SECONDS, DEFAULT_MAX_ANSWER_BYTES
from daemon.storefronts import registry as storefront_registry

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_ENVIRONMENT",
    "ENVIRONMENTS",
    "PUBLIC_CREDENTIAL_KEYS",
    "STOREFRONT_PROVIDERS",
    "Account",
    "Activation",
    "Alerts",
    "Config",
    "DaemonSettings",
    "Listener",
    "RetryPolicy",
    "Site",
    "Storefront",
    "check_config",
    "load_config",
    "parse_config",
]

DEFAULT_CONFIG_PATH: Final = Path("/etc/esd/esd.toml")

#: systemd names the files of a credential directory "<id>_<file>"; the unit's id is "esd"
UNIT_CREDENTIAL_PREFIX = "esd_"

#: credential keys whose values identify rather than authenticate: not redacted (a storefront
#: plug-in names its own besides: `Storefront.public_credential_keys`)
PUBLIC_CREDENTIAL_KEYS = frozenset({"url", "login", "username", "user"})

#: the environments an account may give credentials for; `environment` picks the one in use
ENVIRONMENTS: Final = ("live", "test")
#: the environment of an account that names none, and of a single `[accounts.X.credentials]`
DEFAULT_ENVIRONMENT: Final = "live"
#: the forms a secret is written in (a one-key table of these is a secret, not an environment)
_SECRET_SOURCES: Final = ("env", "credential")

#: credential keys that name the user a secret authenticates
_LOGIN_KEYS: Final = ("login", "username", "user")

_DEFAULT_STATE_DIR: Final = Path("/var/lib/esd")
_DEFAULT_SOCKET: Final = Path("/run/esd/esd.sock")
_SOCKET_NAME: Final = "esd.sock"
_LOG_LEVELS: Final = ("debug", "info", "warning", "error")
_LISTENER_NAMES: Final = ("webhook",)
# sockaddr_un.sun_path is 108 bytes on Linux, one of which is the terminating NUL.
_MAX_SOCKET_PATH_BYTES: Final = 107

# Account names and site keys end up in push references `esd:{account}:{site}:{order}`
# (daemon.providers.contract.push_reference), so neither may contain ":".
_ACCOUNT_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_SITE_KEY: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
_HOSTNAME: Final = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
_OCTAL_MODE: Final = re.compile(r"0?[0-7]{3}")
_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")

_TOP_KEYS: Final = (
    "daemon",
    "retry",
    "alerts",
    "listeners",
    "storefronts",
    "accounts",
    "sites",
)
_ALERT_KEYS: Final = (
    "smtp_host",
    "smtp_port",
    "tls",
    "username",
    "password",
    "sender",
    "recipients",
    "timeout_seconds",
    "down_after_seconds",
    "down_after_failures",
)
_EMAIL: Final = re.compile(r"[^@\s;,<>]+@[^@\s;,<>]+\.[^@\s;,<>]+")
#: how the SMTP connection is secured
TLS_MODES: Final = ("starttls", "tls", "none")
_DAEMON_KEYS: Final = (
    "state_dir",
    "database",
    "socket",
    "socket_mode",
    "log_level",
    "drain_seconds",
    "watchdog",
    "operator_idle_seconds",
    "retention_days",
)
_RETRY_KEYS: Final = (
    "initial_seconds",
    "multiplier",
    "max_seconds",
    "give_up_after_seconds",
    "jitter",
)
_LISTENER_KEYS: Final = (
    "address",
    "port",
    "max_body_bytes",
    "enabled",
    "idle_timeout_seconds",
    "header_timeout_seconds",
    "max_connections",
    "reserved_fds",
    "metrics",
)
_ACCOUNT_KEYS: Final = (
    "provider",
    "environment",
    "concurrency",
    "rate_per_second",
    "status_poll_seconds",
    "storefront_stages",
    "alert_emails",
    "credentials",
    "settings",
)
#: the core keys of a site; its storefront plug-in adds its own (daemon.storefronts.registry)
_SITE_KEYS: Final = (
    "name",
    "storefront",
    "activations",
)
_STOREFRONT_KEYS: Final = (
    "provider",
    "url",
    "poll_seconds",
    "poll_window_seconds",
    "timeout_seconds",
    "call_deadline_seconds",
    "max_answer_bytes",
    "credentials",
    "write_failures",
)
#: storefront providers esd ships
STOREFRONT_PROVIDERS: Final = tuple(storefront_registry.STOREFRONTS)
_ACTIVATION_KEYS: Final = (
    "account",
    "enable",
    "is_live",
    "orders",
    "push_orders_placed_after",
    "adopt_mis_id",
    "settings",
)
#: what an activation does with storefront orders: create them in the MIS, or only sync the
#: status of orders already there (the hosted integration pushed them; seed 003)
ORDER_MODES: Final = ("push", "status_only")

# how many table names a "nested too deeply" problem's key path shows
_DEEP_PATH_KEYS: Final = 6

_SECRET_FORMS: Final = "expected a string or {env=...} or {credential=...}"


@dataclasses.dataclass(frozen=True, slots=True)
class DaemonSettings:
    """Where the daemon keeps its state and socket, and how it runs."""

    state_dir: Path
    database: Path  # absolute: a relative `database` is resolved against state_dir
    socket: Path
    socket_mode: int
    log_level: str
    drain_seconds: float
    watchdog: bool
    #: an operator connection that completes no request line for this long is closed
    operator_idle_seconds: float
    # processed events and transition history older than this are pruned; 0 keeps them all
    retention_days: float = 90.0


@dataclasses.dataclass(frozen=True, slots=True)
class Alerts:
    """Where alert e-mails go and how they are sent (no smtp_host: alerts are only stored)."""

    smtp_host: str | None = None
    smtp_port: int = 587
    tls: str = "starttls"
    username: str | None = None
    password: str | None = None  # a secret
    sender: str = "esd@localhost"
    recipients: tuple[str, ...] = ()
    timeout_seconds: float = 30.0
    #: a connection (MIS account, storefront) failing this long, and at least
    #: `down_after_failures` calls in a row, is down: one alert, `/readyz` 503
    down_after_seconds: float = 300.0
    down_after_failures: int = 3

    def __repr__(self) -> str:
        hidden = "None" if self.password is None else "<hidden>"
        return (
            f"Alerts(smtp_host={self.smtp_host!r}, smtp_port={self.smtp_port!r}, "
            f"tls={self.tls!r}, username={self.username!r}, password={hidden}, "
            f"sender={self.sender!r}, recipients={self.recipients!r})"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Durable retry of network errors: exponential backoff with jitter, then give up."""

    initial_seconds: float = 30.0
    multiplier: float = 2.0
    max_seconds: float = 3600.0
    give_up_after_seconds: float = 86400.0
    jitter: float = 0.2


@dataclasses.dataclass(frozen=True, slots=True)
class Listener:
    """One HTTP listener (the storefront webhook receiver)."""

    name: str
    address: str
    port: int
    max_body_bytes: int
    enabled: bool
    #: a kept-alive connection with no new request is closed after this long
    idle_timeout_seconds: float = 30.0
    #: a connection must deliver a request's complete head within this long (from its first
    #: byte, or from the accept for a new connection), else it is closed
    header_timeout_seconds: float = 10.0
    #: connections served at once; beyond it a new connection gets 503 and is closed
    max_connections: int = 512
    #: file descriptors kept free of the listener for the rest of the daemon (store, operator
    #: socket, outgoing connections): the cap is checked against RLIMIT_NOFILE with them
    reserved_fds: int = 256
    #: serve Prometheus metrics at `GET /metrics` (no secret in them: names and counts only)
    metrics: bool = True


#: where the listener's tunables take their defaults from (the dataclass's own)
_LISTENER_DEFAULTS: Final = Listener("webhook", "127.0.0.1", 8780, 1048576, True)


@dataclasses.dataclass(frozen=True, slots=True)
class Account:
    """One service account: a connection to one MIS through one provider."""

    name: str
    provider: str
    concurrency: int
    rate_per_second: float
    status_poll_seconds: float
    #: the credentials of the environment in use, all the driver sees (every value a secret)
    credentials: Mapping[str, str]
    settings: Mapping[str, Any]
    #: MIS status -> storefront workflow stage name written back (unmapped: not written)
    storefront_stages: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: who hears of this account's failures, besides [alerts] recipients (seed 004)
    alert_emails: tuple[str, ...] = ()
    #: the environment in use (one of ENVIRONMENTS): whose credentials `credentials` are
    environment: str = DEFAULT_ENVIRONMENT
    #: every configured environment's credentials, the one in use among them (empty for an
    #: account built by hand: then `credentials` is the only environment)
    environments: Mapping[str, Mapping[str, str]] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    #: the credentials were written one table per environment (`credentials.test`, ...),
    #: not as one `[accounts.X.credentials]` table (the live environment's)
    per_environment: bool = False

    def credentials_of(self, environment: str) -> Mapping[str, str] | None:
        """The credentials of `environment`, None when it is not configured."""
        if environment == self.environment:
            return self.credentials
        return self.environments.get(environment)

    def other_environments(self) -> tuple[str, ...]:
        """The environments not in use, configured or not, in ENVIRONMENTS order."""
        return tuple(e for e in ENVIRONMENTS if e != self.environment)

    def credential_tables(self) -> list[Mapping[str, str]]:
        """Every configured environment's credentials (for scrubbing: all are secrets)."""
        return [
            self.credentials,
            *(c for e, c in self.environments.items() if e != self.environment),
        ]

    def credentials_as_written(self) -> Mapping[str, Any]:
        """The credentials in the shape of the file (per environment, or one table), for
        naming what a reload changed by its key path."""
        if not self.per_environment:
            return self.credentials
        return {**self.environments, self.environment: self.credentials}

    def __repr__(self) -> str:
        # Credential values are secrets: the repr names the keys only.
        def keys(table: Mapping[str, str]) -> str:
            return f"<keys: {', '.join(sorted(table)) or 'none'}>"

        others = "".join(
            f", {env}_credentials={keys(table)}"
            for env, table in self.environments.items()
            if env != self.environment
        )
        return (
            f"Account(name={self.name!r}, provider={self.provider!r}, "
            f"environment={self.environment!r}, "
            f"concurrency={self.concurrency!r}, rate_per_second={self.rate_per_second!r}, "
            f"status_poll_seconds={self.status_poll_seconds!r}, "
            f"credentials={keys(self.credentials)}{others}, "
            f"settings={dict(self.settings)!r})"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Activation:
    """A site's use of one account. `enable` without `is_live`: configured, not pushing."""

    account: str
    enable: bool
    is_live: bool
    settings: Mapping[str, Any]
    #: "push": create orders in the MIS; "status_only": never create, only sync adopted items
    orders: str = "push"
    #: orders placed before this (UTC) are never pushed unless the operator asks (esd push)
    push_orders_placed_after: dt.datetime | None = None
    #: a storefront item's MisId that esd did not write is adopted as pushed, with that id
    adopt_mis_id: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class Storefront:
    """One storefront API connection (its provider's plug-in: daemon.storefronts.registry)."""

    name: str
    provider: str
    url: str
    poll_seconds: float
    poll_window_seconds: float
    timeout_seconds: float
    credentials: Mapping[str, str]
    call_deadline_seconds: float = DEFAULT_CALL_DEADLINE_SECONDS
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES
    #: a failed push (and the later success) is noted on the storefront item, for its staff
    write_failures: bool = True
    #: credential keys its plug-in says identify rather than authenticate (not scrubbed)
    public_credential_keys: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        keys = ", ".join(sorted(self.credentials))
        return (
            f"Storefront(name={self.name!r}, provider={self.provider!r}, url={self.url!r}, "
            f"credentials=<keys: {keys}>)"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Site:
    """One storefront site, keyed by the site id/domain its events carry."""

    key: str
    name: str
    activations: tuple[Activation, ...]
    storefront: str | None = None  # the [storefronts.X] it belongs to; None: orders by `esd submit`
    #: the storefront plug-in's own keys of the site (e.g. a webhook security key), as checked
    #: and defaulted by the plug-in
    settings: Mapping[str, Any] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    #: which keys of `settings` hold a secret (never shown)
    secret_settings: frozenset[str] = frozenset()

    def live_accounts(self) -> tuple[str, ...]:
        """Names of the accounts this site pushes to (enabled and live), in file order."""
        return tuple(a.account for a in self.activations if a.enable and a.is_live)

    def activation(self, account: str) -> Activation | None:
        """This site's activation of `account`, if any."""
        return next((a for a in self.activations if a.account == account), None)

    def secrets(self) -> list[str]:
        """The secret values among `settings`."""
        return [v for k, v in self.settings.items() if k in self.secret_settings and v]

    def __repr__(self) -> str:
        def show(key: str, value: Any) -> str:
            if key in self.secret_settings:
                return f"{key}={'None' if value is None else '<hidden>'}"
            return f"{key}={value!r}"

        shown = ", ".join(show(k, v) for k, v in sorted(self.settings.items()))
        return (
            f"Site(key={self.key!r}, name={self.name!r}, storefront={self.storefront!r}, "
            f"{shown + ', ' if shown else ''}activations={self.activations!r})"
        )


@dataclasses.dataclass(frozen=True)
class Config:
    """The whole validated configuration."""

    path: Path | None
    daemon: DaemonSettings
    retry: RetryPolicy
    alerts: Alerts
    listeners: Mapping[str, Listener]
    accounts: Mapping[str, Account]
    storefronts: Mapping[str, Storefront]
    sites: Mapping[str, Site]

    def secrets(self) -> frozenset[str]:
        """Every resolved secret value, for log and error scrubbing (empty strings skipped).

        A credential's address and user name (`PUBLIC_CREDENTIAL_KEYS`) are not secrets:
        scrubbing a short login such as "esd" would mangle every log line that contains it.
        """
        values = [
            v
            for table, public in self._credential_tables()
            for k, v in table.items()
            if k not in public
        ]
        values += [secret for site in self.sites.values() for secret in site.secrets()]
        if self.alerts.password:
            values.append(self.alerts.password)
        return frozenset(v for v in values if v)

    def logins(self) -> frozenset[tuple[str, str]]:
        """(user, secret) of every credential that has both, for redacting the encodings
        that carry the pair (an HTTP Basic token, SMTP AUTH PLAIN): see `Redactor.update`."""
        pairs = set()
        for table, public in self._credential_tables():
            user = next((table[k] for k in _LOGIN_KEYS if table.get(k)), None)
            if user is not None:
                pairs |= {(user, v) for k, v in table.items() if v and k not in public}
        if self.alerts.username and self.alerts.password:
            pairs.add((self.alerts.username, self.alerts.password))
        return frozenset(pairs)

    def _credential_tables(self) -> list[tuple[Mapping[str, str], frozenset[str]]]:
        """Every credentials table (each environment of each account, each storefront's), with
        the keys of it that are not secrets."""
        tables = [
            (table, PUBLIC_CREDENTIAL_KEYS)
            for account in self.accounts.values()
            for table in account.credential_tables()
        ]
        tables += [
            (storefront.credentials, PUBLIC_CREDENTIAL_KEYS | storefront.public_credential_keys)
            for storefront in self.storefronts.values()
        ]
        return tables

    def site(self, key: str) -> Site:
        """Return the site `key`, or raise ConfigError naming it."""
        try:
            return self.sites[key]
        except KeyError:
            known = ", ".join(sorted(self.sites)) or "none"
            problem = ConfigProblem(
                str(self.path or ""), _join("sites", key), f"unknown site; configured: {known}"
            )
            raise ConfigError([problem]) from None


def load_config(
    path: Path, *, environ: Mapping[str, str] | None = None, skip_secrets: bool = False
) -> Config:
    """Read and validate the config file at `path`; ConfigError lists every problem.

    `skip_secrets`: check everything but the values of `{env = ...}` and `{credential = ...}`
    secrets (their form is still checked), for an admin shell without the service's
    environment and credentials. Such a Config lacks those values: only for checking."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError([ConfigProblem(file, "", f"cannot read the file: {reason}")]) from None
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text (byte {exc.start})"
        raise ConfigError([ConfigProblem(file, "", message)]) from None
    config = parse_config(text, file=file, environ=environ, skip_secrets=skip_secrets)
    return dataclasses.replace(config, path=path)


def parse_config(
    text: str,
    *,
    file: str = "<string>",
    environ: Mapping[str, str] | None = None,
    skip_secrets: bool = False,
) -> Config:
    """Validate config `text`; ConfigError lists every problem found, not just the first."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's messages end in "(at line L, column C)" and never quote the text.
        problem = ConfigProblem(file, "", f"TOML syntax error: {exc}")
        raise ConfigError([problem]) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError([ConfigProblem(file, "", f"TOML {too_deep_message()}")]) from None
    deep = _too_deep(data)
    if deep is not None:  # the reader copies and walks values recursively
        raise ConfigError([ConfigProblem(file, deep, too_deep_message())])
    reader = _Reader(file, os.environ if environ is None else environ, skip_secrets=skip_secrets)
    config = reader.config(data)
    if reader.problems or config is None:
        raise ConfigError(reader.problems)
    return config


def check_config(
    path: Path, *, environ: Mapping[str, str] | None = None, skip_secrets: bool = False
) -> list[ConfigProblem]:
    """Every problem with the config file at `path`; [] when it is valid."""
    try:
        load_config(path, environ=environ, skip_secrets=skip_secrets)
    except ConfigError as exc:
        return list(exc.problems)
    return []


# --- validation -------------------------------------------------------------------------------


def _join(path: str, key: str) -> str:
    """Append one key to a dotted path, quoted the TOML way unless it is a bare key."""
    part = key if _BARE_KEY.fullmatch(key) else json.dumps(key)
    part = cut(part)  # a key path is quoted in messages too
    return f"{path}.{part}" if path else part


def _too_deep(data: Mapping[str, Any], limit: int = MAX_JSON_DEPTH) -> str | None:
    """The key path of the first value nested deeper than `limit`, found without recursing.

    The path names the tables down to the value, not the array positions inside it (a hundred
    `[0]` would tell the operator nothing more), and at most `_DEEP_PATH_KEYS` of them.
    """
    stack: list[tuple[str, int, object, int]] = [("", 0, data, 0)]
    while stack:
        path, keys, value, depth = stack.pop()
        if isinstance(value, dict):
            if depth >= limit:
                return path
            for key, child in value.items():
                if keys < _DEEP_PATH_KEYS:
                    stack.append((_join(path, key), keys + 1, child, depth + 1))
                else:
                    stack.append((path, keys, child, depth + 1))
        elif isinstance(value, list):
            if depth >= limit:
                return path
            stack.extend((path, _DEEP_PATH_KEYS, child, depth + 1) for child in value)
    return None


def _show(value: object) -> str:
    """A non-secret value as the operator wrote it, for "got ..." in a message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return cut(json.dumps(value[:MAX_QUOTED], ensure_ascii=False))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"  # TOML dates and times


def _bounds(above: float | None, at_least: float | None, at_most: float | None) -> str:
    def num(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else str(x)

    if at_least is not None and at_most is not None:
        return f" from {num(at_least)} to {num(at_most)}"
    if above is not None:
        return f" > {num(above)}"
    if at_least is not None:
        return f" >= {num(at_least)}"
    if at_most is not None:
        return f" <= {num(at_most)}"
    return ""


def _is_number(value: object) -> bool:
    # TOML booleans are Python bools, which are ints; TOML also allows nan and inf.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _frozen(table: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only private copy of a free-form settings table."""
    return MappingProxyType(copy.deepcopy(dict(table)))


def _first_dir(value: str | None) -> str | None:
    """The first entry of a systemd directory variable (it lists several when configured so)."""
    if not value:
        return None
    return value.split(":", 1)[0] or None


def _is_secret_form(value: Mapping[str, Any]) -> bool:
    """`{env = ...}` or `{credential = ...}`: one secret, not a table of credentials."""
    return len(value) == 1 and next(iter(value)) in _SECRET_SOURCES


@dataclasses.dataclass(frozen=True, slots=True)
class _WrittenCredentials:
    """One credentials table: as written (secrets unresolved), resolved, and its key path."""

    written: Mapping[str, Any]
    resolved: dict[str, str]
    at: str


class _Reader:
    """Walks the parsed TOML once, collecting every problem and falling back to defaults."""

    def __init__(self, file: str, environ: Mapping[str, str], *, skip_secrets: bool) -> None:
        self.file = file
        self.environ = environ
        self.skip_secrets = skip_secrets
        # key paths of secrets whose form was checked but whose value was not read
        self.unchecked: set[str] = set()
        self.problems: list[ConfigProblem] = []
        self._secrets: list[str] = []
        self._provider_problems: list[ConfigProblem] = []
        self.providers: dict[str, str] = {}  # account -> provider, for site settings
        #: storefront -> its (known) provider, for the site keys its plug-in owns
        self.storefront_providers: dict[str, str] = {}

    def problem(self, key: str, message: str) -> None:
        self.problems.append(ConfigProblem(self.file, key, message))

    # generic readers: each records a problem and returns the default when the value is wrong

    def known_keys(self, table: Mapping[str, Any], path: str, allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        for key in table:
            if key in allowed:
                continue
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            self.problem(
                _join(path, key), f"unknown key{hint}; expected one of: {', '.join(allowed)}"
            )

    def table(self, parent: Mapping[str, Any], name: str, path: str) -> dict[str, Any]:
        value = parent.get(name, {})
        if isinstance(value, dict):
            return value
        self.problem(_join(path, name), f"expected a table, got {_show(value)}")
        return {}

    def string(
        self,
        parent: Mapping[str, Any],
        name: str,
        path: str,
        *,
        default: str | None = None,
        choices: tuple[str, ...] = (),
    ) -> str | None:
        key = _join(path, name)
        expected = f"one of {', '.join(choices)}" if choices else "a non-empty string"
        if name not in parent:
            if default is None:
                self.problem(key, f"required key is missing; expected {expected}")
            return default
        value = parent[name]
        if isinstance(value, str) and value and (not choices or value in choices):
            return value
        self.problem(key, f"expected {expected}, got {_show(value)}")
        return default

    def integer(
        self,
        parent: Mapping[str, Any],
        name: str,
        path: str,
        *,
        default: int,
        at_least: int | None = None,
        at_most: int | None = None,
    ) -> int:
        value = parent.get(name, default)
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and (at_least is None or value >= at_least)
            and (at_most is None or value <= at_most)
        ):
            return value
        expected = "an integer" + _bounds(None, at_least, at_most)
        self.problem(_join(path, name), f"expected {expected}, got {_show(value)}")
        return default

    def number(
        self,
        parent: Mapping[str, Any],
        name: str,
        path: str,
        *,
        default: float,
        above: float | None = None,
        at_least: float | None = None,
        at_most: float | None = None,
    ) -> float:
        value = parent.get(name, default)
        if (
            _is_number(value)
            and (above is None or value > above)
            and (at_least is None or value >= at_least)
            and (at_most is None or value <= at_most)
        ):
            return float(value)
        expected = "a finite number" + _bounds(above, at_least, at_most)
        self.problem(_join(path, name), f"expected {expected}, got {_show(value)}")
        return default

    def boolean(self, parent: Mapping[str, Any], name: str, path: str, *, default: bool) -> bool:
        value = parent.get(name, default)
        if isinstance(value, bool):
            return value
        self.problem(_join(path, name), f"expected true or false, got {_show(value)}")
        return default

    def path(
        self,
        parent: Mapping[str, Any],
        name: str,
        path: str,
        *,
        default: Path,
        absolute: bool,
    ) -> Path:
        if name not in parent:
            return default
        value = parent[name]
        expected = "an absolute path" if absolute else "a path"
        well_formed = isinstance(value, str) and bool(value) and "\0" not in value
        if well_formed and (not absolute or value.startswith("/")):
            return Path(value)
        self.problem(_join(path, name), f"expected {expected}, got {_show(value)}")
        return default

    def secret(self, value: object, key: str) -> str | None:
        """Resolve a secret written inline, as {env=...} or as {credential=...}.

        Messages name the variable or credential, never the value: even a malformed entry may
        be a pasted password.
        """
        if isinstance(value, str):
            self._secrets.append(value)
            return value
        if not isinstance(value, dict) or len(value) != 1:
            self.problem(key, _SECRET_FORMS)
            return None
        ((form, ref),) = value.items()
        if form == "env":
            if not isinstance(ref, str) or not ref or "=" in ref or "\0" in ref:
                self.problem(key, 'expected {env = "VARIABLE"} naming an environment variable')
                return None
            if self.skip_secrets:
                self.unchecked.add(key)
                return None
            resolved = self.environ.get(ref)
            if resolved is None:
                self.problem(key, f"environment variable {ref} is not set")
                return None
        elif form == "credential":
            if not isinstance(ref, str) or not _is_file_name(ref):
                self.problem(key, 'expected {credential = "name"} with a plain file name')
                return None
            if self.skip_secrets:
                self.unchecked.add(key)
                return None
            resolved = self.credential(ref, key)
            if resolved is None:
                return None
        else:
            self.problem(key, _SECRET_FORMS)
            return None
        self._secrets.append(resolved)
        return resolved

    def credential(self, name: str, key: str) -> str | None:
        """Read a systemd credential (LoadCredential=/SetCredential= in the unit)."""
        directory = _first_dir(self.environ.get("CREDENTIALS_DIRECTORY"))
        if directory is None:
            self.problem(
                key,
                f"credential {quoted(name)} needs $CREDENTIALS_DIRECTORY, which is not set "
                f"(give the unit LoadCredential={name}:...)",
            )
            return None
        # The shipped unit loads the whole /etc/esd/credentials directory with
        # LoadCredential=esd:/etc/esd/credentials, which systemd names "esd_<file>".
        path = Path(directory) / name
        if not path.exists() and (Path(directory) / f"{UNIT_CREDENTIAL_PREFIX}{name}").exists():
            path = Path(directory) / f"{UNIT_CREDENTIAL_PREFIX}{name}"
        try:
            data = path.read_bytes()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            self.problem(
                key, f"cannot read credential {quoted(name)} in $CREDENTIALS_DIRECTORY: {reason}"
            )
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.problem(key, f"credential {quoted(name)} is not UTF-8 text")
            return None
        # `echo secret > file` adds one newline; a second one would be deliberate.
        return text.removesuffix("\n")

    # sections

    def config(self, data: Mapping[str, Any]) -> Config | None:
        self.known_keys(data, "", _TOP_KEYS)
        daemon = self.daemon(self.table(data, "daemon", ""))
        retry = self.retry(self.table(data, "retry", ""))
        alerts = self.alerts(self.table(data, "alerts", ""))
        listeners = self.listeners(self.table(data, "listeners", ""))
        accounts_table = self.table(data, "accounts", "")
        accounts = self.accounts(accounts_table)
        storefronts_table = self.table(data, "storefronts", "")
        storefronts = self.storefronts(storefronts_table)
        # Activations are checked against every account written, even a broken one, so a
        # broken account is reported once, not again by each site that activates it.
        self.providers = {name: a.provider for name, a in accounts.items()}
        sites = self.sites(
            self.table(data, "sites", ""), frozenset(accounts_table), frozenset(storefronts_table)
        )
        if self.problems:
            # Only now is every secret known, including those read after the provider spoke.
            self.scrub_provider_messages()
            return None
        return Config(
            path=None,
            daemon=daemon,
            retry=retry,
            alerts=alerts,
            listeners=MappingProxyType(listeners),
            accounts=MappingProxyType(accounts),
            storefronts=MappingProxyType(storefronts),
            sites=MappingProxyType(sites),
        )

    def daemon(self, table: Mapping[str, Any]) -> DaemonSettings:
        at = "daemon"
        self.known_keys(table, at, _DAEMON_KEYS)

        state_default = _DEFAULT_STATE_DIR
        env_state = _first_dir(self.environ.get("STATE_DIRECTORY"))
        if env_state is not None and "state_dir" not in table:
            if env_state.startswith("/"):
                state_default = Path(env_state)
            else:
                message = f"$STATE_DIRECTORY must be an absolute path, got {_show(env_state)}"
                self.problem(_join(at, "state_dir"), message)
        state_dir = self.path(table, "state_dir", at, default=state_default, absolute=True)

        database = self.path(table, "database", at, default=Path("esd.sqlite3"), absolute=False)

        socket_default = _DEFAULT_SOCKET
        env_runtime = _first_dir(self.environ.get("RUNTIME_DIRECTORY"))
        if env_runtime is not None and "socket" not in table:
            if env_runtime.startswith("/"):
                socket_default = Path(env_runtime) / _SOCKET_NAME
            else:
                message = f"$RUNTIME_DIRECTORY must be an absolute path, got {_show(env_runtime)}"
                self.problem(_join(at, "socket"), message)
        socket = self.path(table, "socket", at, default=socket_default, absolute=True)
        size = len(os.fsencode(socket))
        if size > _MAX_SOCKET_PATH_BYTES:
            self.problem(
                _join(at, "socket"),
                f"expected a unix socket path of at most {_MAX_SOCKET_PATH_BYTES} bytes, "
                f"got {size} bytes",
            )

        raw_mode = table.get("socket_mode", "0660")
        socket_mode = 0o660
        if isinstance(raw_mode, str) and _OCTAL_MODE.fullmatch(raw_mode):
            socket_mode = int(raw_mode, 8)
        else:
            # A bare TOML integer 660 is decimal (0o1224): insist on the quoted form.
            self.problem(
                _join(at, "socket_mode"),
                f'expected an octal string such as "0660", got {_show(raw_mode)}',
            )

        log_level = self.string(table, "log_level", at, default="info", choices=_LOG_LEVELS)
        return DaemonSettings(
            state_dir=state_dir,
            database=state_dir / database,  # an absolute database path stays as it is
            socket=socket,
            socket_mode=socket_mode,
            log_level=log_level or "info",
            drain_seconds=self.number(table, "drain_seconds", at, default=20.0, at_least=0),
            watchdog=self.boolean(table, "watchdog", at, default=True),
            operator_idle_seconds=self.number(
                table, "operator_idle_seconds", at, default=60.0, above=0
            ),
            retention_days=self.number(table, "retention_days", at, default=90.0, at_least=0),
        )

    def retry(self, table: Mapping[str, Any]) -> RetryPolicy:
        at = "retry"
        self.known_keys(table, at, _RETRY_KEYS)
        d = RetryPolicy()
        initial = self.number(table, "initial_seconds", at, default=d.initial_seconds, above=0)
        multiplier = self.number(table, "multiplier", at, default=d.multiplier, at_least=1)
        # The later bounds follow initial_seconds: a cap below the first delay is a typo.
        maximum = self.number(table, "max_seconds", at, default=d.max_seconds, at_least=initial)
        give_up = self.number(
            table, "give_up_after_seconds", at, default=d.give_up_after_seconds, at_least=initial
        )
        jitter = self.number(table, "jitter", at, default=d.jitter, at_least=0, at_most=1)
        return RetryPolicy(initial, multiplier, maximum, give_up, jitter)

    def emails(self, table: Mapping[str, Any], name: str, at: str) -> tuple[str, ...]:
        """A list of e-mail addresses, or one string of them separated by ';' (seed 004)."""
        if name not in table:
            return ()
        raw = table[name]
        key = _join(at, name)
        if isinstance(raw, str):
            values = [v.strip() for v in raw.split(";") if v.strip()]
        elif isinstance(raw, list) and all(isinstance(v, str) for v in raw):
            values = [v.strip() for v in raw]
        else:
            self.problem(key, f"expected 'a@x;b@y' or a list of addresses, got {_show(raw)}")
            return ()
        for value in values:
            if not _EMAIL.fullmatch(value):
                self.problem(key, f"expected e-mail addresses, got {_show(value)}")
        return tuple(dict.fromkeys(values))

    def alerts(self, table: Mapping[str, Any]) -> Alerts:
        at = "alerts"
        self.known_keys(table, at, _ALERT_KEYS)
        d = Alerts()
        host = self.string(table, "smtp_host", at) if "smtp_host" in table else None
        tls = self.string(table, "tls", at, default=d.tls, choices=TLS_MODES) or d.tls
        default_port = {"starttls": 587, "tls": 465, "none": 25}[tls]
        port = self.integer(table, "smtp_port", at, default=default_port, at_least=1)
        username = self.string(table, "username", at) if "username" in table else None
        password = None
        if "password" in table:
            password = self.secret(table["password"], _join(at, "password"))
        sender = self.string(table, "sender", at, default=d.sender) or d.sender
        if not _EMAIL.fullmatch(sender) and sender != d.sender:
            self.problem(_join(at, "sender"), f"expected an e-mail address, got {_show(sender)}")
        recipients = self.emails(table, "recipients", at)
        timeout = self.number(table, "timeout_seconds", at, default=d.timeout_seconds, above=0)
        down_seconds = self.number(
            table, "down_after_seconds", at, default=d.down_after_seconds, above=0
        )
        down_failures = self.integer(
            table, "down_after_failures", at, default=d.down_after_failures, at_least=1
        )
        if (username is None) != (password is None):
            self.problem(at, "username and password go together (SMTP AUTH)")
        return Alerts(
            smtp_host=host,
            smtp_port=port if port is not None else default_port,
            tls=tls,
            username=username,
            password=password,
            sender=sender,
            recipients=recipients,
            timeout_seconds=timeout if timeout is not None else d.timeout_seconds,
            down_after_seconds=down_seconds,
            down_after_failures=down_failures,
        )

    def listeners(self, table: Mapping[str, Any]) -> dict[str, Listener]:
        self.known_keys(table, "listeners", _LISTENER_NAMES)
        # Every known listener exists, with its defaults when the file leaves it out.
        return {"webhook": self.listener("webhook", self.table(table, "webhook", "listeners"))}

    def listener(self, name: str, table: Mapping[str, Any]) -> Listener:
        at = _join("listeners", name)
        self.known_keys(table, at, _LISTENER_KEYS)
        d = _LISTENER_DEFAULTS
        address = table.get("address", "127.0.0.1")
        if not (isinstance(address, str) and _is_host(address)):
            message = f"expected an IP address or host name, got {_show(address)}"
            self.problem(_join(at, "address"), message)
            address = "127.0.0.1"
        return Listener(
            name=name,
            address=address,
            # 0 lets the OS choose a free port: tests use it.
            port=self.integer(table, "port", at, default=8780, at_least=0, at_most=65535),
            max_body_bytes=self.integer(table, "max_body_bytes", at, default=1048576, at_least=1),
            enabled=self.boolean(table, "enabled", at, default=True),
            idle_timeout_seconds=self.number(
                table, "idle_timeout_seconds", at, default=d.idle_timeout_seconds, above=0
            ),
            header_timeout_seconds=self.number(
                table, "header_timeout_seconds", at, default=d.header_timeout_seconds, above=0
            ),
            max_connections=self.integer(
                table, "max_connections", at, default=d.max_connections, at_least=1
            ),
            # Below 16 not even the store and the operator socket would fit.
            reserved_fds=self.integer(
                table, "reserved_fds", at, default=d.reserved_fds, at_least=16
            ),
            metrics=self.boolean(table, "metrics", at, default=d.metrics),
        )

    def named_tables(
        self, table: Mapping[str, Any], section: str, what: str
    ) -> Iterator[tuple[str, dict[str, Any], str]]:
        """(name, table, key path) of each `[section.NAME]`; bad names and non-tables reported."""
        for name, raw in table.items():
            at = _join(section, name)
            if not _ACCOUNT_NAME.fullmatch(name):
                self.problem(
                    at,
                    f'expected {what} of up to 64 letters, digits, "-" and "_" '
                    f"(starting with a letter or digit), got {_show(name)}",
                )
            if not isinstance(raw, dict):
                self.problem(at, f"expected a table, got {_show(raw)}")
                continue
            yield name, raw, at

    def credentials(self, table: Mapping[str, Any], at: str) -> dict[str, str]:
        """The resolved secrets of `table`'s `credentials` sub-table (problems reported)."""
        return self.resolved(self.table(table, "credentials", at), _join(at, "credentials"))

    def resolved(self, written: Mapping[str, Any], credentials_at: str) -> dict[str, str]:
        """Each secret of one credentials table resolved (the unresolvable ones reported)."""
        credentials: dict[str, str] = {}
        for key, value in written.items():
            resolved = self.secret(value, _join(credentials_at, key))
            if resolved is not None:
                credentials[key] = resolved
        return credentials

    def account_credentials(
        self, table: Mapping[str, Any], at: str
    ) -> tuple[dict[str, _WrittenCredentials], bool]:
        """Each environment's credentials as written and resolved, and whether they were
        written one table per environment. One `[accounts.X.credentials]` table without
        environment tables is the live environment's (the form every account had at first)."""
        written = self.table(table, "credentials", at)
        credentials_at = _join(at, "credentials")
        if not any(key in ENVIRONMENTS for key in written):
            resolved = self.resolved(written, credentials_at)
            return {
                DEFAULT_ENVIRONMENT: _WrittenCredentials(written, resolved, credentials_at)
            }, False
        tables = " or ".join(f"[{_join(credentials_at, e)}]" for e in ENVIRONMENTS)
        found: dict[str, _WrittenCredentials] = {}
        for key, value in written.items():
            where = _join(credentials_at, key)
            if key not in ENVIRONMENTS:
                # Its value is not read: it may be a pasted secret, and it belongs to no
                # environment.
                self.problem(
                    where,
                    f"a credential beside environment tables: with {tables}, every "
                    "credential goes in the table of its environment",
                )
            elif not isinstance(value, dict) or _is_secret_form(value):
                self.problem(
                    where,
                    f"expected the {key} environment's credentials as a table ([{where}]); "
                    f'"{key}" is an environment, not a credential name',
                )
            else:
                found[key] = _WrittenCredentials(value, self.resolved(value, where), where)
        return found, True

    def account_environment(
        self,
        table: Mapping[str, Any],
        at: str,
        environments: Mapping[str, _WrittenCredentials],
        per_environment: bool,
    ) -> str:
        """The environment in use (`environment`), reported when it has no credentials."""
        environment = (
            self.string(table, "environment", at, default=DEFAULT_ENVIRONMENT, choices=ENVIRONMENTS)
            or DEFAULT_ENVIRONMENT
        )
        written = table.get("credentials")
        if (
            environment in environments
            or ("environment" in table and table["environment"] not in ENVIRONMENTS)
            or (isinstance(written, dict) and environment in written)  # written, malformed
        ):
            return environment
        credentials_at = _join(at, "credentials")
        needed = _join(credentials_at, environment)
        chosen = (
            f'environment = "{environment}" ({_join(at, "environment")})'
            if "environment" in table
            else f'the default environment "{environment}" ({_join(at, "environment")} is not set)'
        )
        if per_environment:
            message = f"required: {chosen} uses these credentials; add [{needed}]"
        else:
            message = (
                f"required: {chosen} uses these credentials; add [{needed}] (one "
                f"[{credentials_at}] table holds the {DEFAULT_ENVIRONMENT} environment's: "
                f"move it to [{_join(credentials_at, DEFAULT_ENVIRONMENT)}])"
            )
        self.problem(needed, message)
        return environment

    def accounts(self, table: Mapping[str, Any]) -> dict[str, Account]:
        accounts: dict[str, Account] = {}
        for name, raw, at in self.named_tables(table, "accounts", "an account name"):
            account = self.account(name, raw, at)
            if account is not None:
                accounts[name] = account
        return accounts

    def account(self, name: str, table: Mapping[str, Any], at: str) -> Account | None:
        self.known_keys(table, at, _ACCOUNT_KEYS)
        provider = self.string(table, "provider", at)
        if provider is not None and provider not in registry.PROVIDERS:
            known = ", ".join(sorted(registry.PROVIDERS))
            self.problem(
                _join(at, "provider"), f"unknown provider {_show(provider)}; known: {known}"
            )
            provider = None
        environments, per_environment = self.account_credentials(table, at)
        environment = self.account_environment(table, at, environments, per_environment)
        settings = _frozen(self.table(table, "settings", at))
        if provider is not None:
            self.provider_settings(provider, settings, at)
            for written in environments.values():  # the one not in use is checked as well
                self.provider_credentials(provider, written)
        concurrency = self.integer(table, "concurrency", at, default=4, at_least=1)
        rate = self.number(table, "rate_per_second", at, default=10.0, above=0)
        poll = self.number(table, "status_poll_seconds", at, default=300.0, at_least=10)
        stages: dict[str, str] = {}
        stages_at = _join(at, "storefront_stages")
        for status, stage in self.table(table, "storefront_stages", at).items():
            if isinstance(stage, str) and stage:
                stages[status] = stage
            else:
                self.problem(
                    _join(stages_at, status),
                    f"expected a storefront stage name (a string), got {_show(stage)}",
                )
        alert_emails = self.emails(table, "alert_emails", at)
        if provider is None:
            return None
        try:  # the provider's own "alert e-mails" setting (seed 004) counts too
            own = registry.alert_emails(provider, settings)
        except ImportError:
            own = ()
        alert_emails = tuple(dict.fromkeys([*alert_emails, *own]))
        resolved = {env: MappingProxyType(w.resolved) for env, w in environments.items()}
        return Account(
            name=name,
            provider=provider,
            concurrency=concurrency,
            rate_per_second=rate,
            status_poll_seconds=poll,
            credentials=resolved.get(environment, MappingProxyType({})),
            settings=settings,
            storefront_stages=MappingProxyType(stages),
            alert_emails=alert_emails,
            environment=environment,
            environments=MappingProxyType(resolved),
            per_environment=per_environment,
        )

    def site_settings(self, provider: str, settings: Mapping[str, Any], at: str) -> None:
        """A site activation's overrides, checked by the account's provider."""
        try:
            found = registry.site_settings_problems(provider, settings)
        except ImportError:
            return  # reported once at accounts.NAME.provider
        for key, message in found:
            where = f"{at}.{key}" if key else at
            self.problems.append(ConfigProblem(self.file, where, message))

    def provider_settings(self, provider: str, settings: Mapping[str, Any], at: str) -> None:
        try:
            found = registry.settings_problems(provider, settings)
        except ImportError as exc:
            package = registry.PROVIDERS[provider]
            if exc.name is not None and (exc.name == package or exc.name.startswith(package + ".")):
                # The provider's own package is missing or half-written: the reference driver is
                # being built alongside this module. Its settings cannot be checked until it
                # exists, and the driver will refuse bad settings when it starts anyway.
                return
            # A dependency the provider needs is missing: that is an installation problem.
            self.problem(
                _join(at, "provider"), f"provider {quoted(provider)} cannot be loaded: {exc}"
            )
            return
        settings_at = _join(at, "settings")
        for key, message in found:
            problem = ConfigProblem(
                self.file, f"{settings_at}.{key}" if key else settings_at, message
            )
            self.problems.append(problem)
            self._provider_problems.append(problem)

    def provider_credentials(self, provider: str, credentials: _WrittenCredentials) -> None:
        """The provider's own check of the credentials it needs (present, URL shape), so a
        missing password or a URL without a scheme stops check-config, not `esd run`."""
        try:
            found = registry.credentials_problems(provider, credentials.resolved)
        except ImportError:
            return  # reported once by provider_settings
        self.credential_problems(found, credentials)

    def storefront_credentials(self, provider: str, credentials: _WrittenCredentials) -> None:
        """The storefront plug-in's check of the credentials its API needs."""
        found = storefront_registry.credentials_problems(provider, credentials.resolved)
        self.credential_problems(found, credentials)

    def credential_problems(
        self, found: Iterable[tuple[str, str]], credentials: _WrittenCredentials
    ) -> None:
        """A plug-in's credential problems at their key paths (its messages are scrubbed of
        every secret before they are shown: `scrub_provider_messages`)."""
        for key, message in found:
            if key in credentials.written and key not in credentials.resolved:
                continue  # written but not resolved: reported (or skipped) already
            problem = ConfigProblem(self.file, _join(credentials.at, key), message)
            self.problems.append(problem)
            self._provider_problems.append(problem)

    def scrub_provider_messages(self) -> None:
        """Provider messages are not ours to audit: blank out any secret they quote."""
        secrets = sorted({s for s in self._secrets if s}, key=len, reverse=True)
        for problem in self._provider_problems:
            for secret in secrets:
                problem.message = problem.message.replace(secret, "<secret>")

    def storefronts(self, table: Mapping[str, Any]) -> dict[str, Storefront]:
        found: dict[str, Storefront] = {}
        for name, raw, at in self.named_tables(table, "storefronts", "a storefront name"):
            self.known_keys(raw, at, _STOREFRONT_KEYS)
            provider = self.string(raw, "provider", at)
            if provider is not None and provider not in STOREFRONT_PROVIDERS:
                self.problem(
                    _join(at, "provider"),
                    f"unknown storefront provider {_show(provider)}; known: "
                    + ", ".join(STOREFRONT_PROVIDERS),
                )
                provider = None
            if provider is not None:
                self.storefront_providers[name] = provider
            url = self.string(raw, "url", at)
            if url is not None and not _is_http_url(url):
                self.problem(
                    _join(at, "url"),
                    f"expected an http(s) URL with a host (https://host[:port]), got {_show(url)}",
                )
                url = None
            poll = self.number(raw, "poll_seconds", at, default=300.0, at_least=1)
            window = self.number(raw, "poll_window_seconds", at, default=86400.0, at_least=60)
            if window is not None and poll is not None and window <= poll:
                self.problem(
                    _join(at, "poll_window_seconds"),
                    f"expected more than poll_seconds ({poll:g}) so that polls overlap",
                )
            timeout = self.number(raw, "timeout_seconds", at, default=20.0, above=0)
            deadline = self.number(
                raw, "call_deadline_seconds", at, default=DEFAULT_CALL_DEADLINE_SECONDS, above=0
            )
            max_answer = self.integer(
                raw, "max_answer_bytes", at, default=DEFAULT_MAX_ANSWER_BYTES, at_least=1
            )
            write_failures = self.boolean(raw, "write_failures", at, default=True)
            written = self.table(raw, "credentials", at)
            credentials_at = _join(at, "credentials")
            credentials = self.resolved(written, credentials_at)
            if provider is not None:  # which keys it needs is the plug-in's to say
                self.storefront_credentials(
                    provider, _WrittenCredentials(written, credentials, credentials_at)
                )
            if provider is None or url is None:
                continue
            found[name] = Storefront(
                name=name,
                provider=provider,
                url=url.rstrip("/"),
                poll_seconds=poll,
                poll_window_seconds=window,
                timeout_seconds=timeout,
                credentials=MappingProxyType(credentials),
                call_deadline_seconds=deadline,
                max_answer_bytes=max_answer,
                write_failures=write_failures,
                public_credential_keys=storefront_registry.public_credential_keys(provider),
            )
        return found

    def sites(
        self, table: Mapping[str, Any], accounts: frozenset[str], storefronts: frozenset[str]
    ) -> dict[str, Site]:
        sites: dict[str, Site] = {}
        for key, raw in table.items():
            at = _join("sites", key)
            if not _SITE_KEY.fullmatch(key):
                self.problem(
                    at,
                    'expected a site id of letters, digits, ".", "-" and "_" '
                    f"(starting with a letter or digit), got {_show(key)}",
                )
            if not isinstance(raw, dict):
                self.problem(at, f"expected a table, got {_show(raw)}")
                continue
            sites[key] = self.site(key, raw, at, accounts, storefronts)
        return sites

    def site(
        self,
        key: str,
        table: Mapping[str, Any],
        at: str,
        accounts: frozenset[str],
        storefronts: frozenset[str],
    ) -> Site:
        storefront = table.get("storefront") if isinstance(table.get("storefront"), str) else None
        plugins = self.site_plugins(storefront)
        own_keys = {k: p for p in plugins for k in storefront_registry.site_keys(p)[0]}
        self.known_keys(table, at, (*_SITE_KEYS, *own_keys))
        name = self.string(table, "name", at, default=key) or key
        storefront = self.string(table, "storefront", at) if "storefront" in table else None
        if storefront is not None and storefront not in storefronts:
            known = ", ".join(sorted(storefronts)) or "none configured"
            self.problem(
                _join(at, "storefront"),
                f"unknown storefront {_show(storefront)}; expected one of: {known}",
            )
        settings, secret_settings = self.site_storefront_settings(key, table, at, plugins)
        raw_activations = table.get("activations", [])
        activations_at = _join(at, "activations")
        if not isinstance(raw_activations, list):
            message = (
                f"expected an array of tables ([[{activations_at}]]), got {_show(raw_activations)}"
            )
            self.problem(activations_at, message)
            raw_activations = []
        activations: list[Activation] = []
        first_index: dict[str, int] = {}
        for index, raw in enumerate(raw_activations):
            item_at = f"{activations_at}[{index}]"
            if not isinstance(raw, dict):
                self.problem(item_at, f"expected a table, got {_show(raw)}")
                continue
            activation = self.activation(raw, item_at)
            if activation is None:
                continue
            provider = self.providers.get(activation.account)
            if provider is not None:
                self.site_settings(provider, activation.settings, _join(item_at, "settings"))
            account_at = _join(item_at, "account")
            if activation.account not in accounts:
                known = ", ".join(sorted(accounts)) or "none configured"
                self.problem(
                    account_at,
                    f"unknown account {_show(activation.account)}; expected one of: {known}",
                )
            if activation.account in first_index:
                self.problem(
                    account_at,
                    f"account {_show(activation.account)} is already activated on this site "
                    f"at {activations_at}[{first_index[activation.account]}]",
                )
            else:
                first_index[activation.account] = index
            activations.append(activation)
        return Site(
            key=key,
            name=name,
            activations=tuple(activations),
            storefront=storefront,
            settings=MappingProxyType(settings),
            secret_settings=secret_settings,
        )

    def site_plugins(self, storefront: str | None) -> tuple[str, ...]:
        """The storefront plug-ins that own a site's other keys: its storefront's provider; for
        a site without one (webhooks only, or orders by `esd submit`) or with a broken one,
        every registered plug-in (its webhooks may come by any `/webhooks/<storefront>/`)."""
        provider = self.storefront_providers.get(storefront or "")
        return (provider,) if provider is not None else STOREFRONT_PROVIDERS

    def site_storefront_settings(
        self, key: str, table: Mapping[str, Any], at: str, plugins: tuple[str, ...]
    ) -> tuple[dict[str, Any], frozenset[str]]:
        """A site's storefront keys, checked by the plug-ins that own them (secrets resolved
        here, as every secret is, so a plug-in never sees an `{env = ...}` form)."""
        settings: dict[str, Any] = {}
        secret_keys: set[str] = set()
        for plugin in plugins:
            keys, secrets = storefront_registry.site_keys(plugin)
            written: dict[str, Any] = {}
            for name in keys:
                if name not in table:
                    continue
                if name in secrets:
                    value = self.secret(table[name], _join(at, name))
                    if value is not None:
                        written[name] = value
                else:
                    written[name] = table[name]
            found, problems = storefront_registry.read_site_settings(plugin, key, written)
            for where, message in problems:
                self.problem(_join(at, where), message)
            settings.update(found)
            secret_keys |= secrets
        return settings, frozenset(secret_keys)

    def activation(self, table: Mapping[str, Any], at: str) -> Activation | None:
        self.known_keys(table, at, _ACTIVATION_KEYS)
        account = self.string(table, "account", at)
        enable = self.boolean(table, "enable", at, default=True)
        is_live = self.boolean(table, "is_live", at, default=False)
        if is_live and not enable:
            self.problem(
                _join(at, "is_live"),
                "is_live = true needs enable = true (a disabled activation cannot push)",
            )
        settings = _frozen(self.table(table, "settings", at))
        orders = self.string(table, "orders", at, default="push", choices=ORDER_MODES) or "push"
        placed_after = self.moment(table, "push_orders_placed_after", at)
        adopt = self.boolean(table, "adopt_mis_id", at, default=True)
        if orders == "status_only" and not adopt:
            self.problem(
                _join(at, "adopt_mis_id"),
                'adopt_mis_id = false with orders = "status_only" would do nothing at all: '
                "status only syncs the items it adopts",
            )
        if account is None:
            return None
        return Activation(
            account=account,
            enable=enable,
            is_live=is_live,
            settings=settings,
            orders=orders,
            push_orders_placed_after=placed_after,
            adopt_mis_id=adopt,
        )

    def moment(self, parent: Mapping[str, Any], name: str, path: str) -> dt.datetime | None:
        """A TOML date or date-time (or an ISO string) as an aware UTC date-time.

        A date is its midnight UTC; a date-time without a zone is UTC, as Pressero's are.
        """
        if name not in parent:
            return None
        value = parent[name]
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                value = None
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return value.astimezone(dt.UTC)
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
        self.problem(
            _join(path, name),
            "expected a date or date-time such as 2026-12-01 or 2026-12-01T08:00:00Z, "
            f"got {_show(parent[name])}",
        )
        return None


def _is_file_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url


def _is_host(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return _HOSTNAME.fullmatch(address) is not None
    return True
