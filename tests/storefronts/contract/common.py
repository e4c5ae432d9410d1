"""A config for one storefront under test: its sandbox as `[storefronts.sf]`, site `shop`."""

from __future__ import annotations

from pathlib import Path

from daemon.config import Config, parse_config
from daemon.storefronts import registry
from daemon.storefronts.contract import StorefrontDriver
from tests.helpers import config_text
from tests.storefronts.contract.harness import StorefrontHarness

STOREFRONT = "sf"
SITE = "shop"


def storefront_config(harness: StorefrontHarness, tmp_path: Path) -> Config:
    text = config_text(
        tmp_path,
        site_extra=f'storefront = "{STOREFRONT}"\n' + harness.site_toml(),
        extra="\n" + harness.storefront_toml(STOREFRONT),
    )
    return parse_config(text, file="contract.toml", environ={})


def driver_for(harness: StorefrontHarness, tmp_path: Path) -> StorefrontDriver:
    """The plug-in's driver, picked through the registry as the storefront actor picks it."""
    config = storefront_config(harness, tmp_path)
    storefront = config.storefronts[STOREFRONT]
    assert storefront.provider == harness.name
    return registry.driver_class(storefront.provider)(storefront, list(config.sites.values()))
