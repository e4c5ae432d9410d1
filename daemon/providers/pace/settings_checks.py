"""The checks the manifest names (`esd check-config`, and the driver before it connects): an
account's settings, its credentials, a site activation's overrides, and the alert recipients.

`url` is a credential of a Pace account, not a setting: the settings parser knows it as one of
its keys, so the settings are checked with a placeholder url and the credentials' url on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from daemon.providers.contract import check_account
from daemon.providers.kit import required_credentials_problems
from daemon.providers.pace import MANIFEST
from daemon.providers.pace import settings as pace_settings
from daemon.providers.pace.settings import PaceSettings

__all__ = [
    "alert_emails",
    "credentials_problems",
    "parse_account",
    "settings_problems",
    "site_settings_problems",
]

# Only to run the settings checks without a url (the url is a credential, checked on its own).
_PLACEHOLDER_URL: Final = "https://pace.invalid"


def settings_problems(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Everything wrong with an account's Pace settings; `url` belongs in the credentials."""
    if not isinstance(settings, Mapping):
        return pace_settings.settings_problems(settings)
    problems: list[tuple[str, str]] = []
    if "url" in settings:
        problems.append(
            (
                "url",
                "put url in credentials ([accounts.NAME.credentials] url = "
                '"https://pace.example.com"), not in settings',
            )
        )
    rest = {key: value for key, value in settings.items() if key != "url"}
    for key, message in pace_settings.settings_problems({**rest, "url": _PLACEHOLDER_URL}):
        # The settings parser knows url as one of its keys; here it is not one.
        problems.append((key, message.replace("(known: url, ", "(known: ")))
    return problems


def site_settings_problems(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Everything wrong with a site activation's Pace overrides."""
    return pace_settings.site_overrides_problems(settings)


def credentials_problems(credentials: Mapping[str, str]) -> list[tuple[str, str]]:
    """What is missing or wrong in the account's credentials; values are never quoted."""
    problems = required_credentials_problems(credentials, MANIFEST.credential_keys)
    url = credentials.get("url")
    if isinstance(url, str) and url:
        # The settings parser checks the url (root only, no login in it); its messages quote
        # the url only when it carries no login or password.
        problems += [
            (key, message)
            for key, message in pace_settings.settings_problems({"url": url})
            if key == "url"
        ]
    return problems


def parse_account(settings: Mapping[str, Any], credentials: Mapping[str, str]) -> PaceSettings:
    """The account's settings with the credentials' url, once both are checked."""
    check_account(settings_problems(settings), credentials_problems(credentials))
    return pace_settings.parse_settings({**settings, "url": credentials["url"]})


def alert_emails(settings: Mapping[str, Any]) -> tuple[str, ...]:
    """The seed's "Alert emails" parameter: who hears of this account's alerts."""
    found: list[tuple[str, str]] = []
    return tuple(pace_settings.alert_email_addresses(settings.get("alert_emails"), found))
