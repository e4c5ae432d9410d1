"""The generic value readers of the config walk: each records a problem naming its key path
and gives the default, so one pass reports every problem."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import difflib
import ipaddress
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from daemon.config.keys import (
    ACCOUNT_NAME,
    BARE_KEY,
    DEEP_PATH_KEYS,
    EMAIL,
    HOSTNAME,
    SECRET_FORMS,
    SECRET_SOURCES,
    UNIT_CREDENTIAL_PREFIX,
)
from daemon.errors import MAX_QUOTED, ConfigProblem, cut, quoted
from daemon.remote.json_text import MAX_DEPTH as MAX_JSON_DEPTH


def key_path(path: str, key: str) -> str:
    """Append one key to a dotted path, quoted the TOML way unless it is a bare key."""
    part = key if BARE_KEY.fullmatch(key) else json.dumps(key)
    part = cut(part)  # a key path is quoted in messages too
    return f"{path}.{part}" if path else part


def too_deep(data: Mapping[str, Any], limit: int = MAX_JSON_DEPTH) -> str | None:
    """The key path of the first value nested deeper than `limit`, found without recursing.

    The path names the tables down to the value, not the array positions inside it (a hundred
    `[0]` would tell the operator nothing more), and at most `DEEP_PATH_KEYS` of them.
    """
    stack: list[tuple[str, int, object, int]] = [("", 0, data, 0)]
    while stack:
        path, keys, value, depth = stack.pop()
        if isinstance(value, dict):
            if depth >= limit:
                return path
            for key, child in value.items():
                if keys < DEEP_PATH_KEYS:
                    stack.append((key_path(path, key), keys + 1, child, depth + 1))
                else:
                    stack.append((path, keys, child, depth + 1))
        elif isinstance(value, list):
            if depth >= limit:
                return path
            stack.extend((path, DEEP_PATH_KEYS, child, depth + 1) for child in value)
    return None


def show(value: object) -> str:
    """A non-secret value as the operator wrote it, for "got ..." in a message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return cut(json.dumps(value[:MAX_QUOTED], ensure_ascii=False))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"  # TOML dates and times


def _bounds(above: float | None, at_least: float | None, at_most: float | None) -> str:
    def num(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else str(x)

    if at_least is not None and at_most is not None:
        return f" from {num(at_least)} to {num(at_most)}"
    if above is not None:
        return f" > {num(above)}"
    if at_least is not None:
        return f" >= {num(at_least)}"
    if at_most is not None:
        return f" <= {num(at_most)}"
    return ""


def _is_number(value: object) -> bool:
    # TOML booleans are Python bools, which are ints; TOML also allows nan and inf.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def frozen_table(table: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only private copy of a free-form settings table."""
    return MappingProxyType(copy.deepcopy(dict(table)))


def first_dir(value: str | None) -> str | None:
    """The first entry of a systemd directory variable (it lists several when configured so)."""
    if not value:
        return None
    return value.split(":", 1)[0] or None


def is_secret_form(value: Mapping[str, Any]) -> bool:
    """`{env = ...}` or `{credential = ...}`: one secret, not a table of credentials."""
    return len(value) == 1 and next(iter(value)) in SECRET_SOURCES


@dataclasses.dataclass(frozen=True, slots=True)
class WrittenCredentials:
    """One credentials table: as written (secrets unresolved), resolved, and its key path."""

    written: Mapping[str, Any]
    resolved: dict[str, str]
    at: str


def _is_file_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name


def is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url


def is_host(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return HOSTNAME.fullmatch(address) is not None
    return True


class ValueReader:
    """Walks the parsed TOML once, collecting every problem and falling back to defaults."""

    def __init__(self, file: str, environ: Mapping[str, str], *, skip_secrets: bool) -> None:
        self.file = file
        self.environ = environ
        self.skip_secrets = skip_secrets
        # key paths of secrets whose form was checked but whose value was not read
        self.unchecked: set[str] = set()
        self.problems: list[ConfigProblem] = []
        self._secrets: list[str] = []
        self._provider_problems: list[ConfigProblem] = []
        self.providers: dict[str, str] = {}  # account -> provider, for site settings
        #: storefront -> its (known) provider, for the site keys its plug-in owns
        self.storefront_providers: dict[str, str] = {}

    def problem(self, key: str, message: str) -> None:
        self.problems.append(ConfigProblem(self.file, key, message))

    def known_keys(self, table: Mapping[str, Any], path: str, allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        for key in table:
            if key in allowed:
                continue
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            self.problem(
                key_path(path, key), f"unknown key{hint}; expected one of: {', '.join(allowed)}"
            )

    def table(self, parent: Mapping[str, Any], name: str, path: str) -> dict[str, Any]:
        value = parent.get(name, {})
        if isinstance(value, dict):
            return value
        self.problem(key_path(path, name), f"expected a table, got {show(value)}")
        return {}

    def string(
        self,
        parent: Mapping[str, Any],
        name: str,
        path: str,
        *,
        default: str | None = None,
        choices: tuple[str, ...] = (),
    ) -> str | None:
        key = key_path(path, name)
        expected = f"one of {', '.join(choices)}" if choices else "a non-empty string"
        if name not in parent:
            if default is None:
                self.problem(key, f"required key is missing; expected {expected}")
            return default
        value = parent[name]
        if isinstance(value, str) and value and (not choices or value in choices):
            return value
        self.problem(key, f"expected {expected}, got {show(value)}")
        return default

    def integer(
        self,
        parent: Mapping[str, Any],
        name: str,
        path: str,
        *,
        default: int,
        at_least: int | None = None,
        at_most: int | None = None,
    ) -> int:
        value = parent.get(name, default)
        if (
            isinstance(value, int)
            and not isinstance(value, bool)
            and (at_least is None or value >= at_least)
            and (at_most is None or value <= at_most)
        ):
            return value
        expected = "an integer" + _bounds(None, at_least, at_most)
        self.problem(key_path(path, name), f"expected {expected}, got {show(value)}")
        return default

    def number(
        self,
        parent: Mapping[str, Any],
        name: str,
        path: str,
        *,
        default: float,
        above: float | None = None,
        at_least: float | None = None,
        at_most: float | None = None,
    ) -> float:
        value = parent.get(name, default)
        if (
            _is_number(value)
            and (above is None or value > above)
            and (at_least is None or value >= at_least)
            and (at_most is None or value <= at_most)
        ):
            return float(value)
        expected = "a finite number" + _bounds(above, at_least, at_most)
        self.problem(key_path(path, name), f"expected {expected}, got {show(value)}")
        return default

    def boolean(self, parent: Mapping[str, Any], name: str, path: str, *, default: bool) -> bool:
        value = parent.get(name, default)
        if isinstance(value, bool):
            return value
        self.problem(key_path(path, name), f"expected true or false, got {show(value)}")
        return default

    def path(
        self,
        parent: Mapping[str, Any],
        name: str,
        path: str,
        *,
        default: Path,
        absolute: bool,
    ) -> Path:
        if name not in parent:
            return default
        value = parent[name]
        expected = "an absolute path" if absolute else "a path"
        well_formed = isinstance(value, str) and bool(value) and "\0" not in value
        if well_formed and (not absolute or value.startswith("/")):
            return Path(value)
        self.problem(key_path(path, name), f"expected {expected}, got {show(value)}")
        return default

    def secret(self, value: object, key: str) -> str | None:
        """Resolve a secret written inline, as {env=...} or as {credential=...}.

        Messages name the variable or credential, never the value: even a malformed entry may
        be a pasted password.
        """
        if isinstance(value, str):
            self._secrets.append(value)
            return value
        if not isinstance(value, dict) or len(value) != 1:
            self.problem(key, SECRET_FORMS)
            return None
        ((form, ref),) = value.items()
        if form == "env":
            if not isinstance(ref, str) or not ref or "=" in ref or "\0" in ref:
                self.problem(key, 'expected {env = "VARIABLE"} naming an environment variable')
                return None
            if self.skip_secrets:
                self.unchecked.add(key)
                return None
            resolved = self.environ.get(ref)
            if resolved is None:
                self.problem(key, f"environment variable {ref} is not set")
                return None
        elif form == "credential":
            if not isinstance(ref, str) or not _is_file_name(ref):
                self.problem(key, 'expected {credential = "name"} with a plain file name')
                return None
            if self.skip_secrets:
                self.unchecked.add(key)
                return None
            resolved = self.credential(ref, key)
            if resolved is None:
                return None
        else:
            self.problem(key, SECRET_FORMS)
            return None
        self._secrets.append(resolved)
        return resolved

    def credential(self, name: str, key: str) -> str | None:
        """Read a systemd credential (LoadCredential=/SetCredential= in the unit)."""
        directory = first_dir(self.environ.get("CREDENTIALS_DIRECTORY"))
        if directory is None:
            self.problem(
                key,
                f"credential {quoted(name)} needs $CREDENTIALS_DIRECTORY, which is not set "
                f"(give the unit LoadCredential={name}:...)",
            )
            return None
        # The shipped unit loads the whole /etc/esd/credentials directory with
        # LoadCredential=esd:/etc/esd/credentials, which systemd names "esd_<file>".
        path = Path(directory) / name
        if not path.exists() and (Path(directory) / f"{UNIT_CREDENTIAL_PREFIX}{name}").exists():
            path = Path(directory) / f"{UNIT_CREDENTIAL_PREFIX}{name}"
        try:
            data = path.read_bytes()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            self.problem(
                key, f"cannot read credential {quoted(name)} in $CREDENTIALS_DIRECTORY: {reason}"
            )
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.problem(key, f"credential {quoted(name)} is not UTF-8 text")
            return None
        # `echo secret > file` adds one newline; a second one would be deliberate.
        return text.removesuffix("\n")

    def resolved(self, written: Mapping[str, Any], credentials_at: str) -> dict[str, str]:
        """Each secret of one credentials table resolved (the unresolvable ones reported)."""
        credentials: dict[str, str] = {}
        for key, value in written.items():
            resolved = self.secret(value, key_path(credentials_at, key))
            if resolved is not None:
                credentials[key] = resolved
        return credentials

    def credential_problems(
        self, found: Iterable[tuple[str, str]], credentials: WrittenCredentials
    ) -> None:
        """A plug-in's credential problems at their key paths (its messages are scrubbed of
        every secret before they are show: `scrub_provider_messages`)."""
        for key, message in found:
            if key in credentials.written and key not in credentials.resolved:
                continue  # written but not resolved: reported (or skipped) already
            problem = ConfigProblem(self.file, key_path(credentials.at, key), message)
            self.problems.append(problem)
            self._provider_problems.append(problem)

    def named_tables(
        self, table: Mapping[str, Any], section: str, what: str
    ) -> Iterator[tuple[str, dict[str, Any], str]]:
        """(name, table, key path) of each `[section.NAME]`; bad names and non-tables reported."""
        for name, raw in table.items():
            at = key_path(section, name)
            if not ACCOUNT_NAME.fullmatch(name):
                self.problem(
                    at,
                    f'expected {what} of up to 64 letters, digits, "-" and "_" '
                    f"(starting with a letter or digit), got {show(name)}",
                )
            if not isinstance(raw, dict):
                self.problem(at, f"expected a table, got {show(raw)}")
                continue
            yield name, raw, at

    def emails(self, table: Mapping[str, Any], name: str, at: str) -> tuple[str, ...]:
        """A list of e-mail addresses, or one string of them separated by ';' (seed 004)."""
        if name not in table:
            return ()
        raw = table[name]
        key = key_path(at, name)
        if isinstance(raw, str):
            values = [v.strip() for v in raw.split(";") if v.strip()]
        elif isinstance(raw, list) and all(isinstance(v, str) for v in raw):
            values = [v.strip() for v in raw]
        else:
            self.problem(key, f"expected 'a@x;b@y' or a list of addresses, got {show(raw)}")
            return ()
        for value in values:
            if not EMAIL.fullmatch(value):
                self.problem(key, f"expected e-mail addresses, got {show(value)}")
        return tuple(dict.fromkeys(values))

    def moment(self, parent: Mapping[str, Any], name: str, path: str) -> dt.datetime | None:
        """A TOML date or date-time (or an ISO string) as an aware UTC date-time.

        A date is its midnight UTC; a date-time without a zone is UTC, as Pressero's are.
        """
        if name not in parent:
            return None
        value = parent[name]
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value.strip())
            except ValueError:
                value = None
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return value.astimezone(dt.UTC)
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
        self.problem(
            key_path(path, name),
            "expected a date or date-time such as 2026-12-01 or 2026-12-01T08:00:00Z, "
            f"got {show(parent[name])}",
        )
        return None
