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

The package: `keys` (known keys, defaults), `model` (the frozen result), `values` (generic
value readers), `account_sections` and `site_sections` (the account and site tables),
`reader` (the walk), `loading` (the entry points).
"""

from daemon.config.keys import (
    DEFAULT_CONFIG_PATH,
    DEFAULT_ENVIRONMENT,
    ENVIRONMENTS,
    PUBLIC_CREDENTIAL_KEYS,
    STOREFRONT_PROVIDERS,
)
from daemon.config.loading import check_config, load_config, parse_config
from daemon.config.model import (
    Account,
    Activation,
    Alerts,
    Config,
    DaemonSettings,
    Listener,
    RetryPolicy,
    Site,
    Storefront,
)

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
