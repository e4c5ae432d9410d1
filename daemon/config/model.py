"""The validated config: frozen dataclasses, secrets never in a repr."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from daemon.config.keys import (
    DEFAULT_ENVIRONMENT,
    ENVIRONMENTS,
    LOGIN_KEYS,
    PUBLIC_CREDENTIAL_KEYS,
)
from daemon.config.values import key_path
from daemon.errors import ConfigError, ConfigProblem
from daemon.remote.deadline import DEFAULT_CALL_DEADLINE_SECONDS, DEFAULT_MAX_ANSWER_BYTES


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
            user = next((table[k] for k in LOGIN_KEYS if table.get(k)), None)
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
                str(self.path or ""), key_path("sites", key), f"unknown site; configured: {known}"
            )
            raise ConfigError([problem]) from None
