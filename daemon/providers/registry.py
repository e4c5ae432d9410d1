"""Which providers exist, and how to read one's manifest without importing the others.

Adding a provider is adding a folder beside `reference/` whose `__init__.py` declares
`MANIFEST` (a `daemon.providers.manifest.ProviderManifest`: name, driver, capabilities,
credential keys, settings and site-settings checks, sandbox, ...), and one line in `PROVIDERS`
(docs/providers.md has the whole checklist). Importing this module imports no provider;
reading a manifest imports only the provider's package `__init__`, and a check or the driver
only the module the manifest names for it.
A provider whose MIS pushes status names its `webhook_judge` (a `WebhookJudge`) in the
manifest: `/webhooks/mis/<account>` hands it each request.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import Any, cast

from daemon.providers.contract import Capabilities, Driver, WebhookJudge
from daemon.providers.kit.credentials import required_credentials_problems
from daemon.providers.manifest import ProviderManifest

__all__ = [
    "PROVIDERS",
    "alert_emails",
    "capabilities",
    "credentials_problems",
    "driver_class",
    "manifest",
    "settings_problems",
    "site_settings_problems",
    "webhook_judge",
]

#: provider name -> the package whose `__init__` declares its `MANIFEST`
PROVIDERS: dict[str, str] = {
    "reference": "daemon.providers.reference",
    "pace": "daemon.providers.pace",
    "tharstern": "daemon.providers.tharstern",
}


def manifest(provider: str) -> ProviderManifest:
    """The manifest `provider`'s package declares."""
    try:
        package = PROVIDERS[provider]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise LookupError(f"unknown provider {provider!r} (known: {known})") from None
    declared = getattr(import_module(package), "MANIFEST", None)
    if not isinstance(declared, ProviderManifest) or declared.name != provider:
        raise LookupError(f"{package} declares no MANIFEST for provider {provider!r}")
    return declared


def driver_class(provider: str) -> type[Driver]:
    """Return the driver class of `provider`."""
    return cast(type[Driver], manifest(provider).load("driver"))


def capabilities(provider: str) -> Capabilities:
    """What `provider` declares it can do (without loading its driver)."""
    return manifest(provider).capabilities


def settings_problems(provider: str, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Validate an account's provider settings; each problem is (key path, message)."""
    check = manifest(provider).load("settings_problems")
    return cast(list[tuple[str, str]], check(settings))


def credentials_problems(provider: str, credentials: Mapping[str, str]) -> list[tuple[str, str]]:
    """What `provider` finds missing or malformed in an account's resolved credentials (key
    inside `credentials`, message); messages never quote a value."""
    declared = manifest(provider)
    check = declared.load("credentials_problems")
    if check is None:
        return required_credentials_problems(credentials, declared.credential_keys)
    return list(check(credentials))


def site_settings_problems(provider: str, settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Validate a site activation's overrides for `provider` (unchecked if it has no check)."""
    check = manifest(provider).load("site_settings_problems")
    if check is None:
        return []
    return cast(list[tuple[str, str]], check(settings))


def alert_emails(provider: str, settings: Mapping[str, Any]) -> tuple[str, ...]:
    """Alert recipients a provider's own settings name (e.g. Pace's "Alert emails")."""
    read = manifest(provider).load("alert_emails")
    return tuple(read(settings)) if read is not None else ()


def webhook_judge(provider: str) -> WebhookJudge | None:
    """The judge of `provider`'s status webhooks, or None if its MIS pushes none."""
    return cast(WebhookJudge | None, manifest(provider).load("webhook_judge"))
