"""Reloading the config on SIGHUP: what changes live, what waits for a restart.

The daemon's parts (engine, actors, mailer, store alert) read the config through one
`ConfigHolder`; a reload swaps in one new `Config` object there, so every reader sees either
the old config or the new one, never a mix. `plan_reload` builds that new object: the running
config with the live-changeable parts (`LIVE_KEYS`) taken from the new file. Everything else
(accounts added or removed, providers, credentials, URLs, the listener, the store and socket
paths, concurrency, ...) keeps its running value and is named in `ReloadPlan.needs_restart`.

An account's `environment` switch (test or live) is a credentials change like any other: the
driver was built with the running environment's credentials, so a flipped switch waits for a
restart, is named (`accounts.NAME.environment`, with the credential keys that differ between
the two environments) and the running account keeps using the environment it started with.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, Final

from daemon.clock import iso
from daemon.config import Account, Activation, Config, Site, Storefront

__all__ = ["LIVE_KEYS", "ConfigHolder", "ReloadPlan", "differences", "plan_reload"]

#: the keys a reload applies at once (documented in README.md "Reload" and docs/config.md)
LIVE_KEYS: Final = (
    "daemon.log_level",
    "retry.*",
    "alerts.*",
    "accounts.NAME.status_poll_seconds",
    "accounts.NAME.alert_emails",
    "accounts.NAME.storefront_stages",
    "storefronts.NAME.poll_seconds",
    "storefronts.NAME.poll_window_seconds",
    "sites.KEY.activations[i].enable",
    "sites.KEY.activations[i].is_live",
    "sites.KEY.activations[i].orders",
    "sites.KEY.activations[i].push_orders_placed_after",
    "sites.KEY.activations[i].adopt_mis_id",
)

_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")


class ConfigHolder:
    """The config in force, shared by every part of the daemon that reads it."""

    def __init__(self, config: Config, loaded_at: float | None = None) -> None:
        self.current = config
        self.loaded_at = loaded_at
        self.reloads = 0
        #: the last reload's failure (None: the last reload, if any, succeeded)
        self.last_error: str | None = None
        #: keys changed in the file that keep their running value until a restart
        self.needs_restart: tuple[str, ...] = ()

    @classmethod
    def of(cls, config: Config | ConfigHolder) -> ConfigHolder:
        """`config` itself if it is a holder, else a new holder of it."""
        return config if isinstance(config, ConfigHolder) else cls(config)

    def swap(self, config: Config, loaded_at: float, needs_restart: tuple[str, ...]) -> None:
        """Put `config` in force (one assignment: readers see the old or the new one)."""
        self.current = config
        self.loaded_at = loaded_at
        self.reloads += 1
        self.last_error = None
        self.needs_restart = needs_restart

    def status(self) -> dict[str, Any]:
        """The `config` section of `esd status`: no secret is in it."""
        config = self.current
        return {
            "path": str(config.path) if config.path else None,
            "loaded_at": None if self.loaded_at is None else iso(self.loaded_at),
            "reloads": self.reloads,
            "last_reload_error": self.last_error,
            "needs_restart": list(self.needs_restart),
            "log_level": config.daemon.log_level,
            "retry": dataclasses.asdict(config.retry),
            "live": {
                site.key: list(site.live_accounts())
                for site in config.sites.values()
                if site.activations
            },
        }


@dataclasses.dataclass(frozen=True, slots=True)
class ReloadPlan:
    """What a reload does: the config to put in force and what it changes."""

    config: Config
    #: keys whose new value is applied now
    changed: tuple[str, ...]
    #: keys whose new value waits for a restart (the running value is kept)
    needs_restart: tuple[str, ...]


def plan_reload(running: Config, new: Config) -> ReloadPlan:
    """The running config with the live parts of `new` (see the module doc)."""
    merged = dataclasses.replace(
        running,
        path=new.path,
        daemon=dataclasses.replace(running.daemon, log_level=new.daemon.log_level),
        retry=new.retry,
        alerts=new.alerts,
        accounts={
            name: _live_account(account, new.accounts.get(name))
            for name, account in running.accounts.items()
        },
        storefronts={
            name: _live_storefront(storefront, new.storefronts.get(name))
            for name, storefront in running.storefronts.items()
        },
        sites={key: _live_site(site, new.sites.get(key)) for key, site in running.sites.items()},
    )
    return ReloadPlan(
        config=merged,
        changed=tuple(differences(running, merged)),
        needs_restart=tuple(differences(merged, new)),
    )


def _live_account(running: Account, new: Account | None) -> Account:
    if new is None:
        return running
    return dataclasses.replace(
        running,
        status_poll_seconds=new.status_poll_seconds,
        alert_emails=new.alert_emails,
        storefront_stages=new.storefront_stages,
    )


def _live_storefront(running: Storefront, new: Storefront | None) -> Storefront:
    if new is None:
        return running
    return dataclasses.replace(
        running, poll_seconds=new.poll_seconds, poll_window_seconds=new.poll_window_seconds
    )


def _live_site(running: Site, new: Site | None) -> Site:
    if new is None:
        return running
    return dataclasses.replace(
        running,
        activations=tuple(
            _live_activation(activation, new.activation(activation.account))
            for activation in running.activations
        ),
    )


def _live_activation(running: Activation, new: Activation | None) -> Activation:
    if new is None:
        return running
    return dataclasses.replace(
        running,
        enable=new.enable,
        is_live=new.is_live,
        orders=new.orders,
        push_orders_placed_after=new.push_orders_placed_after,
        adopt_mis_id=new.adopt_mis_id,
    )


def differences(old: object, new: object, path: str = "") -> list[str]:
    """The dotted key paths where `old` and `new` differ (names only, never values: a
    credential that changed is named, not shown). A table or array entry present on one side
    only is one path, not one per key inside it."""
    if isinstance(old, Account) and isinstance(new, Account):
        return differences(_as_written(old), _as_written(new), path)
    if dataclasses.is_dataclass(old) and type(old) is type(new):
        found: list[str] = []
        for field in dataclasses.fields(old):
            if field.name in ("path", "name", "key"):
                continue  # the file's own path, and names already in the key path
            found += differences(
                getattr(old, field.name), getattr(new, field.name), _join(path, field.name)
            )
        return found
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        found = []
        for key in [*old, *(k for k in new if k not in old)]:
            at = _join(path, str(key))
            if key not in old or key not in new:
                found.append(at)
            else:
                found += differences(old[key], new[key], at)
        return found
    if (
        isinstance(old, tuple)
        and isinstance(new, tuple)
        and len(old) == len(new)
        and any(dataclasses.is_dataclass(item) for item in old)
    ):
        found = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            found += differences(a, b, f"{path}[{index}]")
        return found
    return [] if old == new else [path]


def _as_written(account: Account) -> dict[str, Any]:
    """An account's fields under their config key paths: the credentials as the file has them
    (`credentials.KEY`, or `credentials.ENV.KEY` when written per environment), not as the
    three derived fields that hold them (in use, every environment, the form)."""
    view = {
        field.name: getattr(account, field.name)
        for field in dataclasses.fields(account)
        if field.name not in ("name", "credentials", "environments", "per_environment")
    }
    view["credentials"] = account.credentials_as_written()
    return view


def _join(path: str, key: str) -> str:
    part = key if _BARE_KEY.fullmatch(key) else '"' + key.replace('"', '\\"') + '"'
    return f"{path}.{part}" if path else part
