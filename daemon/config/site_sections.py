"""The `[storefronts.NAME]` and `[sites.KEY]` tables and their activations; the storefront
plug-in checks its own site keys."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from daemon.config.keys import (
    ACTIVATION_KEYS,
    ORDER_MODES,
    SITE_KEY,
    SITE_KEYS,
    STOREFRONT_KEYS,
    STOREFRONT_PROVIDERS,
)
from daemon.config.model import Activation, Site, Storefront
from daemon.config.values import (
    ValueReader,
    WrittenCredentials,
    frozen_table,
    is_http_url,
    key_path,
    show,
)
from daemon.errors import ConfigProblem
from daemon.providers import registry
from daemon.remote.deadline import DEFAULT_CALL_DEADLINE_SECONDS, DEFAULT_MAX_ANSWER_BYTES
from daemon.storefronts import registry as storefront_registry


class SiteSections(ValueReader):
    """The storefront and site tables' readers (a part of `ConfigReader`)."""

    def storefront_credentials(self, provider: str, credentials: WrittenCredentials) -> None:
        """The storefront plug-in's check of the credentials its API needs."""
        found = storefront_registry.credentials_problems(provider, credentials.resolved)
        self.credential_problems(found, credentials)

    def site_settings(self, provider: str, settings: Mapping[str, Any], at: str) -> None:
        """A site activation's overrides, checked by the account's provider."""
        try:
            found = registry.site_settings_problems(provider, settings)
        except ImportError:
            return  # reported once at accounts.NAME.provider
        for key, message in found:
            where = f"{at}.{key}" if key else at
            self.problems.append(ConfigProblem(self.file, where, message))

    def storefronts(self, table: Mapping[str, Any]) -> dict[str, Storefront]:
        found: dict[str, Storefront] = {}
        for name, raw, at in self.named_tables(table, "storefronts", "a storefront name"):
            self.known_keys(raw, at, STOREFRONT_KEYS)
            provider = self.string(raw, "provider", at)
            if provider is not None and provider not in STOREFRONT_PROVIDERS:
                self.problem(
                    key_path(at, "provider"),
                    f"unknown storefront provider {show(provider)}; known: "
                    + ", ".join(STOREFRONT_PROVIDERS),
                )
                provider = None
            if provider is not None:
                self.storefront_providers[name] = provider
            url = self.string(raw, "url", at)
            if url is not None and not is_http_url(url):
                self.problem(
                    key_path(at, "url"),
                    f"expected an http(s) URL with a host (https://host[:port]), got {show(url)}",
                )
                url = None
            poll = self.number(raw, "poll_seconds", at, default=300.0, at_least=1)
            window = self.number(raw, "poll_window_seconds", at, default=86400.0, at_least=60)
            if window is not None and poll is not None and window <= poll:
                self.problem(
                    key_path(at, "poll_window_seconds"),
                    f"expected more than poll_seconds ({poll:g}) so that polls overlap",
                )
            timeout = self.number(raw, "timeout_seconds", at, default=20.0, above=0)
            deadline = self.number(
                raw, "call_deadline_seconds", at, default=DEFAULT_CALL_DEADLINE_SECONDS, above=0
            )
            max_answer = self.integer(
                raw, "max_answer_bytes", at, default=DEFAULT_MAX_ANSWER_BYTES, at_least=1
            )
            write_failures = self.boolean(raw, "write_failures", at, default=True)
            written = self.table(raw, "credentials", at)
            credentials_at = key_path(at, "credentials")
            credentials = self.resolved(written, credentials_at)
            if provider is not None:  # which keys it needs is the plug-in's to say
                self.storefront_credentials(
                    provider, WrittenCredentials(written, credentials, credentials_at)
                )
            if provider is None or url is None:
                continue
            found[name] = Storefront(
                name=name,
                provider=provider,
                url=url.rstrip("/"),
                poll_seconds=poll,
                poll_window_seconds=window,
                timeout_seconds=timeout,
                credentials=MappingProxyType(credentials),
                call_deadline_seconds=deadline,
                max_answer_bytes=max_answer,
                write_failures=write_failures,
                public_credential_keys=storefront_registry.public_credential_keys(provider),
            )
        return found

    def sites(
        self, table: Mapping[str, Any], accounts: frozenset[str], storefronts: frozenset[str]
    ) -> dict[str, Site]:
        sites: dict[str, Site] = {}
        for key, raw in table.items():
            at = key_path("sites", key)
            if not SITE_KEY.fullmatch(key):
                self.problem(
                    at,
                    'expected a site id of letters, digits, ".", "-" and "_" '
                    f"(starting with a letter or digit), got {show(key)}",
                )
            if not isinstance(raw, dict):
                self.problem(at, f"expected a table, got {show(raw)}")
                continue
            sites[key] = self.site(key, raw, at, accounts, storefronts)
        return sites

    def site(
        self,
        key: str,
        table: Mapping[str, Any],
        at: str,
        accounts: frozenset[str],
        storefronts: frozenset[str],
    ) -> Site:
        storefront = table.get("storefront") if isinstance(table.get("storefront"), str) else None
        plugins = self.site_plugins(storefront)
        own_keys = {k: p for p in plugins for k in storefront_registry.site_keys(p)[0]}
        self.known_keys(table, at, (*SITE_KEYS, *own_keys))
        name = self.string(table, "name", at, default=key) or key
        storefront = self.string(table, "storefront", at) if "storefront" in table else None
        if storefront is not None and storefront not in storefronts:
            known = ", ".join(sorted(storefronts)) or "none configured"
            self.problem(
                key_path(at, "storefront"),
                f"unknown storefront {show(storefront)}; expected one of: {known}",
            )
        settings, secret_settings = self.site_storefront_settings(key, table, at, plugins)
        raw_activations = table.get("activations", [])
        activations_at = key_path(at, "activations")
        if not isinstance(raw_activations, list):
            message = (
                f"expected an array of tables ([[{activations_at}]]), got {show(raw_activations)}"
            )
            self.problem(activations_at, message)
            raw_activations = []
        activations: list[Activation] = []
        first_index: dict[str, int] = {}
        for index, raw in enumerate(raw_activations):
            item_at = f"{activations_at}[{index}]"
            if not isinstance(raw, dict):
                self.problem(item_at, f"expected a table, got {show(raw)}")
                continue
            activation = self.activation(raw, item_at)
            if activation is None:
                continue
            provider = self.providers.get(activation.account)
            if provider is not None:
                self.site_settings(provider, activation.settings, key_path(item_at, "settings"))
            account_at = key_path(item_at, "account")
            if activation.account not in accounts:
                known = ", ".join(sorted(accounts)) or "none configured"
                self.problem(
                    account_at,
                    f"unknown account {show(activation.account)}; expected one of: {known}",
                )
            if activation.account in first_index:
                self.problem(
                    account_at,
                    f"account {show(activation.account)} is already activated on this site "
                    f"at {activations_at}[{first_index[activation.account]}]",
                )
            else:
                first_index[activation.account] = index
            activations.append(activation)
        return Site(
            key=key,
            name=name,
            activations=tuple(activations),
            storefront=storefront,
            settings=MappingProxyType(settings),
            secret_settings=secret_settings,
        )

    def site_plugins(self, storefront: str | None) -> tuple[str, ...]:
        """The storefront plug-ins that own a site's other keys: its storefront's provider; for
        a site without one (webhooks only, or orders by `esd submit`) or with a broken one,
        every registered plug-in (its webhooks may come by any `/webhooks/<storefront>/`)."""
        provider = self.storefront_providers.get(storefront or "")
        return (provider,) if provider is not None else STOREFRONT_PROVIDERS

    def site_storefront_settings(
        self, key: str, table: Mapping[str, Any], at: str, plugins: tuple[str, ...]
    ) -> tuple[dict[str, Any], frozenset[str]]:
        """A site's storefront keys, checked by the plug-ins that own them (secrets resolved
        here, as every secret is, so a plug-in never sees an `{env = ...}` form)."""
        settings: dict[str, Any] = {}
        secret_keys: set[str] = set()
        for plugin in plugins:
            keys, secrets = storefront_registry.site_keys(plugin)
            written: dict[str, Any] = {}
            for name in keys:
                if name not in table:
                    continue
                if name in secrets:
                    value = self.secret(table[name], key_path(at, name))
                    if value is not None:
                        written[name] = value
                else:
                    written[name] = table[name]
            found, problems = storefront_registry.read_site_settings(plugin, key, written)
            for where, message in problems:
                self.problem(key_path(at, where), message)
            settings.update(found)
            secret_keys |= secrets
        return settings, frozenset(secret_keys)

    def activation(self, table: Mapping[str, Any], at: str) -> Activation | None:
        self.known_keys(table, at, ACTIVATION_KEYS)
        account = self.string(table, "account", at)
        enable = self.boolean(table, "enable", at, default=True)
        is_live = self.boolean(table, "is_live", at, default=False)
        if is_live and not enable:
            self.problem(
                key_path(at, "is_live"),
                "is_live = true needs enable = true (a disabled activation cannot push)",
            )
        settings = frozen_table(self.table(table, "settings", at))
        orders = self.string(table, "orders", at, default="push", choices=ORDER_MODES) or "push"
        placed_after = self.moment(table, "push_orders_placed_after", at)
        adopt = self.boolean(table, "adopt_mis_id", at, default=True)
        if orders == "status_only" and not adopt:
            self.problem(
                key_path(at, "adopt_mis_id"),
                'adopt_mis_id = false with orders = "status_only" would do nothing at all: '
                "status only syncs the items it adopts",
            )
        if account is None:
            return None
        return Activation(
            account=account,
            enable=enable,
            is_live=is_live,
            settings=settings,
            orders=orders,
            push_orders_placed_after=placed_after,
            adopt_mis_id=adopt,
        )
