"""One typed reader of a provider's `[accounts.NAME.settings]` table, for every provider.

Each provider used to write its own `_flag`, `_optional_int`, `_holidays`, ... with slightly
different messages. A `SettingsReader` reads one value per call, typed, and never raises: a
wrong value records a `(key, message)` problem and gives the default, so `esd check-config`
shows every problem of a table at once, each naming its key (the config prefixes the account's
path). Values that may be secrets are never quoted; the others are quoted short (`quoted`).

The forms accepted are those the storefronts' admin forms store, since shops copy settings from
them: an empty string means "not set", numbers may be digit strings, flags Y/N or true/false.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

from daemon.errors import cut, quoted

__all__ = ["Problems", "SettingsReader", "table_problem"]

Problems = list[tuple[str, str]]
_Choice = TypeVar("_Choice", bound=str)

#: keys that hold a secret; in settings they are refused, never quoted
SECRET_KEYS: Final = frozenset({"login", "password", "username", "user", "token", "api_key"})

_EMAIL: Final = re.compile(r"[^@\s;,]+@[^@\s;,]+\.[^@\s;,.]+")
_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_INTEGER: Final = re.compile(r"[+-]?\d+")


def table_problem(settings: object, where: str = "") -> Problems:
    """[] when `settings` is a table, else the one problem that says what it is instead."""
    if isinstance(settings, Mapping):
        return []
    return [(where, f"expected a table of settings, got {type(settings).__name__}")]


class SettingsReader:
    """Typed reads of one settings table; problems collect in `self.problems`."""

    def __init__(self, settings: Mapping[str, Any], prefix: str = "") -> None:
        self.settings = settings
        self.prefix = prefix  # "site_mapping[2]." for a nested table, "" at the top
        self.problems: Problems = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append((f"{self.prefix}{key}", message))

    def raw(self, key: str) -> object:
        return self.settings.get(key)

    def is_set(self, key: str) -> bool:
        value = self.settings.get(key)
        return value is not None and not (isinstance(value, str) and not value.strip())

    # -- shape --------------------------------------------------------------------------------

    def unknown_keys(self, known: Iterable[str], secret_keys: Iterable[str] = SECRET_KEYS) -> None:
        """A problem for every key not in `known`; a secret-looking key is told where it goes."""
        known = tuple(known)
        secrets = {key.casefold() for key in secret_keys}
        for key in sorted(cut(str(k)) for k in self.settings):
            if key in known:
                continue
            if key.casefold() in secrets:
                self.problem(
                    key, "a secret belongs in the account's credentials, not in its settings"
                )
            else:
                self.problem(key, f"unknown setting (known: {', '.join(known)})")

    # -- scalars ------------------------------------------------------------------------------

    def text(self, key: str, default: str = "") -> str:
        """A string, stripped; a whole number is taken as its digits; unset gives `default`."""
        value = self.settings.get(key)
        if value is None:
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            self.problem(key, "must be a string")
            return default
        return value.strip() or default

    def required_text(self, key: str, what: str) -> str | None:
        """A non-empty string, or a problem saying what the key is for (`what`)."""
        if not self.is_set(key):
            self.problem(key, f"required: {what}")
            return None
        value = self.text(key)
        return value or None

    def flag(self, key: str, default: bool) -> bool:
        """Y/N, yes/no or true/false (any case); unset gives `default`."""
        value = self.settings.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            word = value.strip().casefold()
            if word in ("y", "yes", "true"):
                return True
            if word in ("n", "no", "false"):
                return False
        self.problem(key, f"must be Y or N (or true or false), got {quoted(value)}")
        return default

    def optional_int(
        self, key: str, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        """A whole number (or its digits) within the bounds; unset gives None."""
        value = self.settings.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            number = int(value.strip())
        if number is None:
            self.problem(key, f"must be a whole number, got {quoted(value)}")
            return None
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            bounds = (
                f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            )
            self.problem(key, f"must be {bounds}, got {number}")
            return None
        return number

    def integer(
        self, key: str, default: int, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        number = self.optional_int(key, minimum, maximum)
        return default if number is None else number

    def seconds(self, key: str, default: float) -> float:
        """A finite number of seconds greater than 0; unset gives `default`."""
        value = self.settings.get(key)
        if value is None:
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            self.problem(key, "must be a number of seconds greater than 0")
            return default
        return float(value)

    def choice(self, key: str, options: Sequence[_Choice], default: _Choice) -> _Choice:
        """One of `options` (exact); unset or "" gives `default`."""
        value = self.settings.get(key)
        if value is None or value == "":
            return default
        for option in options:
            if value == option:
                return option
        self.problem(key, f"must be one of {', '.join(options)}, got {quoted(value)}")
        return default

    # -- lists --------------------------------------------------------------------------------

    def dates(self, key: str, separator: str = "|") -> frozenset[dt.date]:
        """Calendar days: "2021-10-28|2022-07-18" as the admin forms store them, or a list."""
        value = self.settings.get(key)
        if value is None:
            return frozenset()
        entries: Iterable[tuple[str, object]]
        if isinstance(value, str):
            entries = [(key, part.strip()) for part in value.split(separator) if part.strip()]
        elif isinstance(value, list | tuple):
            entries = [(f"{key}[{i}]", part) for i, part in enumerate(value)]
        else:
            self.problem(key, f"expected dates YYYY-MM-DD separated by {separator!r}")
            return frozenset()
        days: set[dt.date] = set()
        for at, entry in entries:
            if isinstance(entry, dt.datetime):
                self.problem(at, f"{entry.isoformat()!r} is a date-time; expected a date")
            elif isinstance(entry, dt.date):
                days.add(entry)
            elif isinstance(entry, str) and _ISO_DATE.fullmatch(entry.strip()):
                try:
                    days.add(dt.date.fromisoformat(entry.strip()))
                except ValueError:
                    self.problem(at, f"{quoted(entry)} is not a date (YYYY-MM-DD)")
            else:
                self.problem(at, f"{quoted(entry)} is not a date (YYYY-MM-DD)")
        return frozenset(days)

    def emails(self, key: str) -> tuple[str, ...]:
        """E-mail addresses: "a@x.com;b@y.com" or a list; the invalid ones are problems."""
        value = self.settings.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            entries = [(key, part.strip()) for part in value.split(";") if part.strip()]
        elif isinstance(value, list | tuple):
            entries = []
            for i, part in enumerate(value):
                if not isinstance(part, str):
                    self.problem(f"{key}[{i}]", "must be an e-mail address")
                elif part.strip():
                    entries.append((f"{key}[{i}]", part.strip()))
        else:
            self.problem(key, "expected e-mail addresses separated by ';'")
            return ()
        found: list[str] = []
        for at, address in entries:
            if _EMAIL.fullmatch(address):
                found.append(address)
            else:
                self.problem(at, f"{quoted(address)} is not a valid e-mail address")
        return tuple(found)

    def timezone(self, key: str) -> str:
        """An IANA zone name ("America/Chicago") that this machine knows; unset gives ""."""
        name = self.text(key)
        if not name:
            return ""
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.problem(key, f"{quoted(name)} is not a time zone name such as America/Chicago")
            return ""
        return name
