"""Which providers exist, and how to load one's driver class without importing the others.

Adding a provider is adding a folder beside `reference/` and one line in `PROVIDERS`.
Each provider's `driver` module defines `driver_class` (a `Driver` subclass) and
`settings_problems(settings) -> list[tuple[str, str]]` (key path inside `settings`, message),
and may define `credentials_problems(credentials)` (what is missing or malformed, e.g. a URL
without a scheme; checked when the config loads) and `site_settings_problems(settings)` for
per-site overrides of a site activation, and `webhook_judge` (a `WebhookJudge`) if its MIS can
push status by webhook (`/webhooks/mis/<account>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from types import ModuleType
from typing import Any, cast

from daemon.providers.contract import Driver, WebhookJudge

__all__ = [
    "PROVIDERS",
    "alert_emails",
    "credentials_problems",
    "driver_class",
    "settings_problems",
    "site_settings_problems",
    "webhook_judge",
]

#: provider name -> module that holds its driver
PROVIDERS: dict[str, str] = {
    "reference": "daemon.providers.reference.driver",
    "pace": "daemon.providers.pace.driver",
}


def _module(provider: str) -> ModuleType:
    try:
        path = PROVIDERS[provider]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise LookupError(f"unknown provider {provider!r} (known: {known})") from None
    return import_module(path)


def driver_class(provider: str) -> type[Driver]:
    """Return the driver class of `provider`."""
    return cast(type[Driver], _module(provider).driver_class)


def settings_problems(provider: str, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Validate an account's provider settings; each problem is (key path, message)."""
    check = _module(provider).settings_problems
    return cast(list[tuple[str, str]], check(settings))


def credentials_problems(provider: str, credentials: Mapping[str, str]) -> list[tuple[str, str]]:
    """What `provider` finds missing or malformed in an account's resolved credentials (key
    inside `credentials`, message); messages never quote a value."""
    check = getattr(_module(provider), "credentials_problems", None)
    return [] if check is None else list(check(credentials))


def site_settings_problems(provider: str, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Validate a site activation's overrides for `provider` (unchecked if it has no check)."""
    check = getattr(_module(provider), "site_settings_problems", None)
    if check is None:
        return []
    return cast(list[tuple[str, str]], check(settings))


def alert_emails(provider: str, settings: Mapping[str, Any]) -> tuple[str, ...]:
    """Alert recipients a provider's own settings name (e.g. Pace's "Alert emails")."""
    read = getattr(_module(provider), "alert_emails", None)
    return tuple(read(settings)) if read is not None else ()


def webhook_judge(provider: str) -> WebhookJudge | None:
    """The judge of `provider`'s status webhooks, or None if its MIS pushes none."""
    return cast(WebhookJudge | None, getattr(_module(provider), "webhook_judge", None))
