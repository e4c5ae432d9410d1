"""The `[accounts.NAME]` tables: provider, limits, credentials per environment, settings
checked by the provider's manifest."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from daemon.config.keys import ACCOUNT_KEYS, DEFAULT_ENVIRONMENT, ENVIRONMENTS
from daemon.config.model import Account
from daemon.config.values import (
    ValueReader,
    WrittenCredentials,
    frozen_table,
    is_secret_form,
    key_path,
    show,
)
from daemon.errors import ConfigProblem, quoted
from daemon.providers import registry


class AccountSections(ValueReader):
    """The account tables' readers (a part of `ConfigReader`)."""

    def credentials(self, table: Mapping[str, Any], at: str) -> dict[str, str]:
        """The resolved secrets of `table`'s `credentials` sub-table (problems reported)."""
        return self.resolved(self.table(table, "credentials", at), key_path(at, "credentials"))

    def account_credentials(
        self, table: Mapping[str, Any], at: str
    ) -> tuple[dict[str, WrittenCredentials], bool]:
        """Each environment's credentials as written and resolved, and whether they were
        written one table per environment. One `[accounts.X.credentials]` table without
        environment tables is the live environment's (the form every account had at first)."""
        written = self.table(table, "credentials", at)
        credentials_at = key_path(at, "credentials")
        if not any(key in ENVIRONMENTS for key in written):
            resolved = self.resolved(written, credentials_at)
            return {
                DEFAULT_ENVIRONMENT: WrittenCredentials(written, resolved, credentials_at)
            }, False
        tables = " or ".join(f"[{key_path(credentials_at, e)}]" for e in ENVIRONMENTS)
        found: dict[str, WrittenCredentials] = {}
        for key, value in written.items():
            where = key_path(credentials_at, key)
            if key not in ENVIRONMENTS:
                # Its value is not read: it may be a pasted secret, and it belongs to no
                # environment.
                self.problem(
                    where,
                    f"a credential beside environment tables: with {tables}, every "
                    "credential goes in the table of its environment",
                )
            elif not isinstance(value, dict) or is_secret_form(value):
                self.problem(
                    where,
                    f"expected the {key} environment's credentials as a table ([{where}]); "
                    f'"{key}" is an environment, not a credential name',
                )
            else:
                found[key] = WrittenCredentials(value, self.resolved(value, where), where)
        return found, True

    def account_environment(
        self,
        table: Mapping[str, Any],
        at: str,
        environments: Mapping[str, WrittenCredentials],
        per_environment: bool,
    ) -> str:
        """The environment in use (`environment`), reported when it has no credentials."""
        environment = (
            self.string(table, "environment", at, default=DEFAULT_ENVIRONMENT, choices=ENVIRONMENTS)
            or DEFAULT_ENVIRONMENT
        )
        written = table.get("credentials")
        if (
            environment in environments
            or ("environment" in table and table["environment"] not in ENVIRONMENTS)
            or (isinstance(written, dict) and environment in written)  # written, malformed
        ):
            return environment
        credentials_at = key_path(at, "credentials")
        needed = key_path(credentials_at, environment)
        chosen = (
            f'environment = "{environment}" ({key_path(at, "environment")})'
            if "environment" in table
            else (
                f'the default environment "{environment}" '
                f"({key_path(at, 'environment')} is not set)"
            )
        )
        if per_environment:
            message = f"required: {chosen} uses these credentials; add [{needed}]"
        else:
            message = (
                f"required: {chosen} uses these credentials; add [{needed}] (one "
                f"[{credentials_at}] table holds the {DEFAULT_ENVIRONMENT} environment's: "
                f"move it to [{key_path(credentials_at, DEFAULT_ENVIRONMENT)}])"
            )
        self.problem(needed, message)
        return environment

    def accounts(self, table: Mapping[str, Any]) -> dict[str, Account]:
        accounts: dict[str, Account] = {}
        for name, raw, at in self.named_tables(table, "accounts", "an account name"):
            account = self.account(name, raw, at)
            if account is not None:
                accounts[name] = account
        return accounts

    def account(self, name: str, table: Mapping[str, Any], at: str) -> Account | None:
        self.known_keys(table, at, ACCOUNT_KEYS)
        provider = self.string(table, "provider", at)
        if provider is not None and provider not in registry.PROVIDERS:
            known = ", ".join(sorted(registry.PROVIDERS))
            self.problem(
                key_path(at, "provider"), f"unknown provider {show(provider)}; known: {known}"
            )
            provider = None
        environments, per_environment = self.account_credentials(table, at)
        environment = self.account_environment(table, at, environments, per_environment)
        settings = frozen_table(self.table(table, "settings", at))
        if provider is not None:
            self.provider_settings(provider, settings, at)
            for written in environments.values():  # the one not in use is checked as well
                self.provider_credentials(provider, written)
        concurrency = self.integer(table, "concurrency", at, default=4, at_least=1)
        rate = self.number(table, "rate_per_second", at, default=10.0, above=0)
        poll = self.number(table, "status_poll_seconds", at, default=300.0, at_least=10)
        stages: dict[str, str] = {}
        stages_at = key_path(at, "storefront_stages")
        for status, stage in self.table(table, "storefront_stages", at).items():
            if isinstance(stage, str) and stage:
                stages[status] = stage
            else:
                self.problem(
                    key_path(stages_at, status),
                    f"expected a storefront stage name (a string), got {show(stage)}",
                )
        alert_emails = self.emails(table, "alert_emails", at)
        if provider is None:
            return None
        try:  # the provider's own "alert e-mails" setting (seed 004) counts too
            own = registry.alert_emails(provider, settings)
        except ImportError:
            own = ()
        alert_emails = tuple(dict.fromkeys([*alert_emails, *own]))
        resolved = {env: MappingProxyType(w.resolved) for env, w in environments.items()}
        return Account(
            name=name,
            provider=provider,
            concurrency=concurrency,
            rate_per_second=rate,
            status_poll_seconds=poll,
            credentials=resolved.get(environment, MappingProxyType({})),
            settings=settings,
            storefront_stages=MappingProxyType(stages),
            alert_emails=alert_emails,
            environment=environment,
            environments=MappingProxyType(resolved),
            per_environment=per_environment,
        )

    def provider_settings(self, provider: str, settings: Mapping[str, Any], at: str) -> None:
        try:
            found = registry.settings_problems(provider, settings)
        except ImportError as exc:
            package = registry.PROVIDERS[provider]
            if exc.name is not None and (exc.name == package or exc.name.startswith(package + ".")):
                # The provider's own package is missing or half-written: the reference driver is
                # being built alongside this module. Its settings cannot be checked until it
                # exists, and the driver will refuse bad settings when it starts anyway.
                return
            # A dependency the provider needs is missing: that is an installation problem.
            self.problem(
                key_path(at, "provider"), f"provider {quoted(provider)} cannot be loaded: {exc}"
            )
            return
        settings_at = key_path(at, "settings")
        for key, message in found:
            problem = ConfigProblem(
                self.file, f"{settings_at}.{key}" if key else settings_at, message
            )
            self.problems.append(problem)
            self._provider_problems.append(problem)

    def provider_credentials(self, provider: str, credentials: WrittenCredentials) -> None:
        """The provider's own check of the credentials it needs (present, URL shape), so a
        missing password or a URL without a scheme stops check-config, not `esd run`."""
        try:
            found = registry.credentials_problems(provider, credentials.resolved)
        except ImportError:
            return  # reported once by provider_settings
        self.credential_problems(found, credentials)

    def scrub_provider_messages(self) -> None:
        """Provider messages are not ours to audit: blank out any secret they quote."""
        secrets = sorted({s for s in self._secrets if s}, key=len, reverse=True)
        for problem in self._provider_problems:
            for secret in secrets:
                problem.message = problem.message.replace(secret, "<secret>")
