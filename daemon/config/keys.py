"""The config's known keys, defaults and value forms (what `docs/config.md` lists)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from daemon.storefronts import registry as storefront_registry

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
SECRET_SOURCES: Final = ("env", "credential")


#: credential keys that name the user a secret authenticates
LOGIN_KEYS: Final = ("login", "username", "user")


DEFAULT_STATE_DIR: Final = Path("/var/lib/esd")


DEFAULT_SOCKET: Final = Path("/run/esd/esd.sock")


SOCKET_NAME: Final = "esd.sock"


LOG_LEVELS: Final = ("debug", "info", "warning", "error")


LISTENER_NAMES: Final = ("webhook",)


# sockaddr_un.sun_path is 108 bytes on Linux, one of which is the terminating NUL.
MAX_SOCKET_PATH_BYTES: Final = 107


# Account names and site keys end up in push references `esd:{account}:{site}:{order}`
# (daemon.providers.contract.push_reference), so neither may contain ":".
ACCOUNT_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


SITE_KEY: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")


HOSTNAME: Final = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


OCTAL_MODE: Final = re.compile(r"0?[0-7]{3}")


BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")


TOP_KEYS: Final = (
    "daemon",
    "retry",
    "alerts",
    "listeners",
    "storefronts",
    "accounts",
    "sites",
)


ALERT_KEYS: Final = (
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


EMAIL: Final = re.compile(r"[^@\s;,<>]+@[^@\s;,<>]+\.[^@\s;,<>]+")


#: how the SMTP connection is secured
TLS_MODES: Final = ("starttls", "tls", "none")


DAEMON_KEYS: Final = (
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


RETRY_KEYS: Final = (
    "initial_seconds",
    "multiplier",
    "max_seconds",
    "give_up_after_seconds",
    "jitter",
)


LISTENER_KEYS: Final = (
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


ACCOUNT_KEYS: Final = (
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
SITE_KEYS: Final = (
    "name",
    "storefront",
    "activations",
)


STOREFRONT_KEYS: Final = (
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


ACTIVATION_KEYS: Final = (
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
DEEP_PATH_KEYS: Final = 6


SECRET_FORMS: Final = "expected a string or {env=...} or {credential=...}"
