"""The manifest each provider folder declares itself with, and what the registry reads.

A provider package's `__init__.py` holds `MANIFEST = ProviderManifest(...)` and nothing heavy:
the registry imports the package to read it, so it must not import the provider's client (zeep,
lxml, httpx). Everything with dependencies is named by a "module:attribute" reference and
imported only when asked for (`ProviderManifest.load`).

The driver class takes its `capabilities` from the manifest, so they are declared once and the
spine and the tests can read them without loading the driver.
"""

from __future__ import annotations

import dataclasses
from importlib import import_module
from typing import Any

from daemon.providers.contract import Capabilities

__all__ = ["ProviderManifest"]


@dataclasses.dataclass(frozen=True, slots=True)
class ProviderManifest:
    """What a provider is and where its parts are ("module:attribute" references)."""

    name: str
    #: the `daemon.providers.contract.Driver` subclass
    driver: str
    capabilities: Capabilities
    #: the keys an account's `[accounts.NAME.credentials]` must give
    credential_keys: tuple[str, ...]
    #: settings -> [(key path, message)]; checked when the config loads
    settings_problems: str
    #: the loopback fake of the MIS (`LoopbackSandbox` subclass), for tests and the demo
    sandbox: str
    #: credentials -> [(key, message)], values never quoted; None: only `credential_keys`
    credentials_problems: str | None = None
    #: site activation overrides -> [(key path, message)]; None: a site may set nothing
    site_settings_problems: str | None = None
    #: settings -> the alert recipients the provider's own settings name
    alert_emails: str | None = None
    #: the judge of the MIS's own webhooks (`StatusMode.WEBHOOK`); None: it sends none
    webhook_judge: str | None = None

    def load(self, part: str) -> Any:
        """The object a reference field (`driver`, `sandbox`, ...) names; None if unset."""
        reference = getattr(self, part)
        if reference is None:
            return None
        if not isinstance(reference, str) or ":" not in reference:
            raise TypeError(f"manifest of {self.name!r}: {part} is not a 'module:attribute'")
        module, _, attribute = reference.partition(":")
        return getattr(import_module(module), attribute)
