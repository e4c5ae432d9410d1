"""The `reference` provider: a minimal JSON-over-HTTP MIS, and the template for every provider.

Each provider is one folder with the same few modules, each with one job:

- `client.py`  thin async I/O: one method per MIS endpoint, errors classified through
  `daemon.remote.http_errors` (or the SOAP equivalent);
- `mapping.py` pure translation between `daemon.orders.model` and the MIS's wire format,
  tested without sockets;
- `driver.py`  the `daemon.providers.contract.Driver` subclass that composes the two and makes
  every create idempotent through the push journal (`daemon.providers.kit.ensure_step`);
  the checks the manifest below names for `daemon.providers.registry` live here too;
- `sandbox.py` a fake of the MIS that serves real HTTP on loopback, with fault injection, for
  the tests and the demo.

The whole shape, the manifest and the checklist of a new provider: docs/providers.md.
"""

from daemon.providers.contract import Capabilities, ImportKind, StatusMode
from daemon.providers.manifest import ProviderManifest

__all__ = ["MANIFEST"]

#: what the registry reads (docs/providers.md); the driver takes its capabilities from here
MANIFEST = ProviderManifest(
    name="reference",
    driver="daemon.providers.reference.driver:ReferenceDriver",
    capabilities=Capabilities(status=StatusMode.POLL, imports=frozenset({ImportKind.PRODUCTS})),
    credential_keys=("url", "login", "password"),
    settings_problems="daemon.providers.reference.driver:settings_problems",
    credentials_problems="daemon.providers.reference.driver:credentials_problems",
    sandbox="daemon.providers.reference.sandbox:ReferenceSandbox",
    webhook_judge="daemon.providers.reference.webhook:webhook_judge",
)
