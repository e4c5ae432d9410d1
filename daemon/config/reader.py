"""The config walk: the top-level tables in order, each section read by its part."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from daemon.config.account_sections import AccountSections
from daemon.config.keys import (
    ALERT_KEYS,
    DAEMON_KEYS,
    DEFAULT_SOCKET,
    DEFAULT_STATE_DIR,
    EMAIL,
    LISTENER_KEYS,
    LISTENER_NAMES,
    LOG_LEVELS,
    MAX_SOCKET_PATH_BYTES,
    OCTAL_MODE,
    RETRY_KEYS,
    SOCKET_NAME,
    TLS_MODES,
    TOP_KEYS,
)
from daemon.config.model import Alerts, Config, DaemonSettings, Listener, RetryPolicy
from daemon.config.site_sections import SiteSections
from daemon.config.values import first_dir, is_host, key_path, show

#: where the listener's tunables take their defaults from (the dataclass's own)
_LISTENER_DEFAULTS: Final = Listener("webhook", "127.0.0.1", 8780, 1048576, True)


class ConfigReader(AccountSections, SiteSections):
    """Walks the parsed TOML once, collecting every problem and falling back to defaults."""

    def config(self, data: Mapping[str, Any]) -> Config | None:
        self.known_keys(data, "", TOP_KEYS)
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
        self.known_keys(table, at, DAEMON_KEYS)

        state_default = DEFAULT_STATE_DIR
        env_state = first_dir(self.environ.get("STATE_DIRECTORY"))
        if env_state is not None and "state_dir" not in table:
            if env_state.startswith("/"):
                state_default = Path(env_state)
            else:
                message = f"$STATE_DIRECTORY must be an absolute path, got {show(env_state)}"
                self.problem(key_path(at, "state_dir"), message)
        state_dir = self.path(table, "state_dir", at, default=state_default, absolute=True)

        database = self.path(table, "database", at, default=Path("esd.sqlite3"), absolute=False)

        socket_default = DEFAULT_SOCKET
        env_runtime = first_dir(self.environ.get("RUNTIME_DIRECTORY"))
        if env_runtime is not None and "socket" not in table:
            if env_runtime.startswith("/"):
                socket_default = Path(env_runtime) / SOCKET_NAME
            else:
                message = f"$RUNTIME_DIRECTORY must be an absolute path, got {show(env_runtime)}"
                self.problem(key_path(at, "socket"), message)
        socket = self.path(table, "socket", at, default=socket_default, absolute=True)
        size = len(os.fsencode(socket))
        if size > MAX_SOCKET_PATH_BYTES:
            self.problem(
                key_path(at, "socket"),
                f"expected a unix socket path of at most {MAX_SOCKET_PATH_BYTES} bytes, "
                f"got {size} bytes",
            )

        raw_mode = table.get("socket_mode", "0660")
        socket_mode = 0o660
        if isinstance(raw_mode, str) and OCTAL_MODE.fullmatch(raw_mode):
            socket_mode = int(raw_mode, 8)
        else:
            # A bare TOML integer 660 is decimal (0o1224): insist on the quoted form.
            self.problem(
                key_path(at, "socket_mode"),
                f'expected an octal string such as "0660", got {show(raw_mode)}',
            )

        log_level = self.string(table, "log_level", at, default="info", choices=LOG_LEVELS)
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
        self.known_keys(table, at, RETRY_KEYS)
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

    def alerts(self, table: Mapping[str, Any]) -> Alerts:
        at = "alerts"
        self.known_keys(table, at, ALERT_KEYS)
        d = Alerts()
        host = self.string(table, "smtp_host", at) if "smtp_host" in table else None
        tls = self.string(table, "tls", at, default=d.tls, choices=TLS_MODES) or d.tls
        default_port = {"starttls": 587, "tls": 465, "none": 25}[tls]
        port = self.integer(table, "smtp_port", at, default=default_port, at_least=1)
        username = self.string(table, "username", at) if "username" in table else None
        password = None
        if "password" in table:
            password = self.secret(table["password"], key_path(at, "password"))
        sender = self.string(table, "sender", at, default=d.sender) or d.sender
        if not EMAIL.fullmatch(sender) and sender != d.sender:
            self.problem(key_path(at, "sender"), f"expected an e-mail address, got {show(sender)}")
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
        self.known_keys(table, "listeners", LISTENER_NAMES)
        # Every known listener exists, with its defaults when the file leaves it out.
        return {"webhook": self.listener("webhook", self.table(table, "webhook", "listeners"))}

    def listener(self, name: str, table: Mapping[str, Any]) -> Listener:
        at = key_path("listeners", name)
        self.known_keys(table, at, LISTENER_KEYS)
        d = _LISTENER_DEFAULTS
        address = table.get("address", "127.0.0.1")
        if not (isinstance(address, str) and is_host(address)):
            message = f"expected an IP address or host name, got {show(address)}"
            self.problem(key_path(at, "address"), message)
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
