"""The `tharstern` provider: Tharstern print MIS over its REST API (seeds 000 and 002).

Orders go out along two paths chosen per product (the product map in the settings): a stock
item becomes a line of one sales order (`orders/submit`); a product mapped to a Tharstern
product type becomes an estimate request (from `EstRequest/{type}/Example`), then a job from
that estimate (`job/createfromestimate`), with its delivery address and artwork. Status and
tracking come back by Tharstern's webhooks / subscriptions on `/webhooks/mis/<account>`
(`webhook.py`), with a poll of the jobs and orders as the fallback (`status_poll.py`).

Modules: `guesses` (every inferred API name, with its evidence), `client` (I/O), `settings`
and the pure mapping modules, `push_steps` (the journaled creates), `driver`, `webhook` (the
judge), `sandbox` (a real server on loopback built from the same guesses, a package).
"""

from daemon.providers.contract import Capabilities, StatusMode
from daemon.providers.manifest import ProviderManifest

__all__ = ["MANIFEST"]

#: what the registry reads (docs/providers.md); the driver takes its capabilities from here.
#: Credential names: seed 000 "Tharstern API Login", "Tharstern API Password", "Tharstern
#: Server URL (https)". Optional: `application_id` (the Infigo setup page's "Application ID",
#: "can be a made up name ... unique per storefront"; not a secret, so the `application_id`
#: setting gives it too, the credential winning) and `webhook_secret`, which authenticates
#: Tharstern's webhooks and turns the account's status mode to webhook.
MANIFEST = ProviderManifest(
    name="tharstern",
    driver="daemon.providers.tharstern.driver:TharsternDriver",
    capabilities=Capabilities(status=StatusMode.WEBHOOK, poll_fallback=True),
    credential_keys=("url", "login", "password"),
    site_settings_problems="daemon.providers.tharstern.settings:site_settings_problems",
    alert_emails="daemon.providers.tharstern.settings:alert_emails",
    settings_problems="daemon.providers.tharstern.settings:settings_problems",
    credentials_problems="daemon.providers.tharstern.settings:credentials_problems",
    sandbox="daemon.providers.tharstern.sandbox:TharsternSandbox",
    webhook_judge="daemon.providers.tharstern.webhook:webhook_judge",
)
