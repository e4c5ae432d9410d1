"""Pressero's own config keys: a site's webhook security key, SiteId and hash rule, and the
credentials of the admin API's login.

The core config reads only a site's name, storefront and activations, and a storefront's
credentials as a table of secrets; these keys are declared and checked here (through
daemon.storefronts.registry), with the messages they always had.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from daemon.providers.kit.credentials import required_credentials_problems
from daemon.storefronts.pressero.guesses import DEFAULT_HASH_VARIANT, HashVariant

__all__ = [
    "CREDENTIAL_KEYS",
    "HASH_VARIANTS",
    "PUBLIC_CREDENTIAL_KEYS",
    "SECRET_SITE_KEYS",
    "SITE_KEYS",
    "credentials_problems",
    "read_site_settings",
]

#: how a site's webhook MessageHash is computed (the exact form is not public: pressero.md §2)
HASH_VARIANTS: Final = tuple(v.value for v in HashVariant)
#: the keys of `[sites.X]` that are Pressero's (security_key: the webhook signing key)
SITE_KEYS: Final = ("site_id", "security_key", "hash_variant")
SECRET_SITE_KEYS: Final = frozenset({"security_key"})
#: what `[storefronts.NAME.credentials]` must give: the admin API's login (pressero.md §1.2)
CREDENTIAL_KEYS: Final = ("username", "password")
#: the login's optional ids, sent with it when written
OPTIONAL_CREDENTIAL_KEYS: Final = ("subscriber_id", "consumer_id")
#: credentials that identify rather than authenticate: never scrubbed from logs
PUBLIC_CREDENTIAL_KEYS: Final = frozenset({"username", *OPTIONAL_CREDENTIAL_KEYS})


def _show(value: object) -> str:
    """A non-secret value as the operator wrote it, for "got ..." in a message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value[:60], ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    return "a table" if isinstance(value, dict) else f"a {type(value).__name__}"


def credentials_problems(credentials: Mapping[str, str]) -> list[tuple[str, str]]:
    """The login's keys: username and password present, and an id that is written not empty
    (Pressero would refuse the login with a reason that names neither). Values never quoted."""
    problems = required_credentials_problems(credentials, CREDENTIAL_KEYS)
    problems += [
        (key, "expected a non-empty id, or leave the key out")
        for key in OPTIONAL_CREDENTIAL_KEYS
        if key in credentials and not credentials[key]
    ]
    return problems


def read_site_settings(
    site: str, values: Mapping[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The site's checked keys with their defaults (site_id: the site key), and the problems.

    `security_key` arrives resolved (the config resolves `{env = ...}` forms, and leaves it out
    when it could not); it is never quoted.
    """
    problems: list[tuple[str, str]] = []
    site_id = values.get("site_id", site)
    if not isinstance(site_id, str) or not site_id:
        problems.append(("site_id", f"expected a non-empty string, got {_show(site_id)}"))
        site_id = site
    variant = values.get("hash_variant", DEFAULT_HASH_VARIANT.value)
    if not isinstance(variant, str) or variant not in HASH_VARIANTS:
        expected = f"one of {', '.join(HASH_VARIANTS)}"
        problems.append(("hash_variant", f"expected {expected}, got {_show(variant)}"))
        variant = DEFAULT_HASH_VARIANT.value
    security_key = values.get("security_key")
    settings = {
        "site_id": site_id,
        "hash_variant": variant,
        "security_key": security_key if isinstance(security_key, str) else None,
    }
    return settings, problems
