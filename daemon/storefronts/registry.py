"""Which storefronts exist, and how to load one's plug-in without importing the others.

Adding a storefront is adding a folder beside the existing one and one line in `STOREFRONTS`.
Each storefront's driver module defines `STOREFRONT`, a `StorefrontSpec` (its driver class,
webhook judge, order mapping, webhook types, site keys and credential keys): see
daemon.storefronts.contract.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module
from typing import Any, cast

from daemon.providers.kit.credentials import required_credentials_problems
from daemon.storefronts.contract import Judge, StorefrontDriver, StorefrontSpec

__all__ = [
    "JUDGES",
    "STOREFRONTS",
    "credential_keys",
    "credentials_problems",
    "driver_class",
    "judge",
    "public_credential_keys",
    "read_site_settings",
    "site_keys",
    "spec",
]

#: storefront name -> module whose `STOREFRONT` is its spec
STOREFRONTS: dict[str, str] = {
    "pressero": "daemon.storefronts.pressero.driver",
}


def spec(name: str) -> StorefrontSpec:
    """The spec of storefront `name` (its module is imported on first use)."""
    try:
        path = STOREFRONTS[name]
    except KeyError:
        known = ", ".join(sorted(STOREFRONTS))
        raise LookupError(f"unknown storefront provider {name!r} (known: {known})") from None
    return cast(StorefrontSpec, import_module(path).STOREFRONT)


def driver_class(name: str) -> type[StorefrontDriver]:
    """The driver class of storefront `name`."""
    return spec(name).driver_class


def judge(name: str) -> Judge:
    """The webhook judge of storefront `name`."""
    return spec(name).judge


def site_keys(name: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """The `[sites.X]` keys storefront `name` owns, and which of them are secrets."""
    found = spec(name)
    return found.site_keys, found.secret_site_keys


def read_site_settings(
    name: str, site: str, values: Mapping[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Check site `site`'s keys for storefront `name`: (settings with defaults, problems)."""
    return spec(name).read_site_settings(site, values)


def credential_keys(name: str) -> tuple[str, ...]:
    """The keys storefront `name` needs in `[storefronts.NAME.credentials]`."""
    return spec(name).credential_keys


def public_credential_keys(name: str) -> frozenset[str]:
    """The credential keys of storefront `name` that are not secrets (a user name, an id)."""
    return spec(name).public_credential_keys


def credentials_problems(name: str, credentials: Mapping[str, str]) -> list[tuple[str, str]]:
    """What storefront `name` finds missing or malformed in a storefront's resolved credentials
    (key inside `credentials`, message); messages never quote a value."""
    found = spec(name)
    if found.credentials_problems is None:
        return required_credentials_problems(credentials, found.credential_keys)
    return list(found.credentials_problems(credentials))


class _Judges(Mapping[str, Judge]):
    """Storefront name -> webhook judge, importing a plug-in only when its path is hit."""

    def __getitem__(self, name: str) -> Judge:
        if name not in STOREFRONTS:
            raise KeyError(name)
        return judge(name)

    def __contains__(self, name: object) -> bool:
        return name in STOREFRONTS

    def __iter__(self) -> Iterator[str]:
        return iter(STOREFRONTS)

    def __len__(self) -> int:
        return len(STOREFRONTS)


#: what intake routes `/webhooks/<storefront>/<site>` through
JUDGES: Mapping[str, Judge] = _Judges()
