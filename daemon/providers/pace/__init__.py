"""The EFI Pace provider (seed 004): Pressero orders become Pace jobs, parts and shipments.

Like every provider folder (see `daemon.providers.reference`), the I/O and the pure parts are
kept apart. The pure parts, each table-tested from seed 004 without sockets:

- `settings`             the account and site parameters, parsed and checked (`esd check-config`);
- `promise_date`         the promise / scheduled ship date (calendar days, weekends, holidays);
- `customer_resolution`  which Pace customer and contacts an order belongs to, as a decision
                         over facts the driver has looked up; the Customer / Contact field maps;
- `job_mapping`          the Job and Job Part field maps (part 01 is updated, not created);
- `shipment_mapping`     one shipment per shipping location, its cartons and carton contents;
- `account_rules`        the "Accounts" mapping: Ship Via and Account Number per shipment;
- `site_rules`           the "Site Mapping Details": admin status, prices with tax and shipping,
                         materials, user name as the job's additional description.

Every map returns frozen dataclasses whose `to_pace(...)` gives a dict keyed by the real Pace
property names (pace.md §6, checked against rest_swagger_selected_definitions.json); the SOAP
client serialises the values (`str`, `int`, `bool`, `Decimal`, `datetime.date` for a calendar
day, naive `datetime.datetime` for a shop-local wall time).
"""

from daemon.providers.contract import Capabilities, StatusMode
from daemon.providers.manifest import ProviderManifest

__all__ = ["MANIFEST"]

#: what the registry reads (docs/providers.md); the driver takes its capabilities from here.
#: Everything named here is imported only when asked for: this package must stay light (no zeep).
MANIFEST = ProviderManifest(
    name="pace",
    driver="daemon.providers.pace.driver:PaceDriver",
    capabilities=Capabilities(status=StatusMode.POLL),
    credential_keys=("url", "login", "password"),
    settings_problems="daemon.providers.pace.settings_checks:settings_problems",
    credentials_problems="daemon.providers.pace.settings_checks:credentials_problems",
    site_settings_problems="daemon.providers.pace.settings_checks:site_settings_problems",
    alert_emails="daemon.providers.pace.settings_checks:alert_emails",
    sandbox="daemon.providers.pace.sandbox:PaceSandbox",
)
