"""Structured JSON logs on stdout, with every known secret redacted.

One JSON object per line (journald stores stdout of a systemd service as-is):

    {"timestamp": "2024-05-01T12:00:00.000000Z", "level": "info", "logger": "esd.push",
     "event": "item.pushed", "order": "P-1001", "job": "J-77"}

Secrets (MIS passwords, API keys) are registered with `REDACTOR` once the config is loaded and
are then replaced by ``***`` everywhere a log line can carry them: values, keys, nested
structures and exception tracebacks (redacted in the event dict, the last step before
rendering), and once more in the rendered line, which catches secrets hidden in the ``repr`` of
arbitrary objects. Standard-library logging (uvicorn, httpx, aiosqlite) goes through the same
renderer and the same redaction.

Under journald (``$JOURNAL_STREAM`` names the stream the lines go to) each line starts with its
syslog priority, ``<3>`` for an error, ``<4>`` a warning, ``<6>`` info, ``<7>`` debug
(sd-daemon(3)): journald strips the prefix and stores the priority, so ``journalctl -p err``
shows the errors. The JSON after it is the same line as without journald.

`REDACTOR` is also what error texts and the operator socket use before showing anything to a
person: ``REDACTOR.redact(str(exc))``.
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import logging
import os
import re
import sys
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any, Final, TextIO, TypeVar, cast

import structlog
from structlog.typing import EventDict, FilteringBoundLogger, Processor, WrappedLogger

from daemon.errors import ConfigError

__all__ = [
    "LEVELS",
    "REDACTED",
    "REDACTOR",
    "Redactor",
    "configure_logging",
    "enabled",
    "get_logger",
    "journal_priority",
    "reset_logging",
    "writes_to_journal",
]

REDACTED: Final = "***"

#: Accepted values for ``configure_logging(level=...)``, lowest first.
LEVELS: Final = ("debug", "info", "warning", "error", "critical")

# Third-party libraries log through stdlib logging; below WARNING they are chatty (uvicorn's
# access log, httpx's request lines) and esd logs the facts that matter itself.
_THIRD_PARTY_MIN_LEVEL: Final = logging.WARNING

# The first keys of every line, in this order; the others follow as logged.
_LEADING_KEYS: Final = ("timestamp", "level", "logger", "event")

_DEFAULT_LOGGER_NAME: Final = "esd"

# The shortest run of secret bytes whose base64 (8 characters) is redacted inside a longer
# encoded text: shorter runs would blank out unrelated base64 that happens to contain them.
_MIN_BASE64_CORE_BYTES: Final = 6

_LEVEL_NUMBERS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}

#: syslog priorities of the levels (sd-daemon(3) prefixes); an unknown level is info
_SYSLOG_PRIORITIES: Final = {
    "debug": 7,
    "info": 6,
    "warning": 4,
    "warn": 4,
    "error": 3,
    "exception": 3,
    "critical": 2,
}
_INFO_PRIORITY: Final = 6

_T = TypeVar("_T")


def journal_priority(level: object) -> str:
    """The sd-daemon(3) prefix of a line logged at `level`: ``<3>`` for "error"."""
    name = level.lower() if isinstance(level, str) else ""
    return f"<{_SYSLOG_PRIORITIES.get(name, _INFO_PRIORITY)}>"


def writes_to_journal(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Is `stream` connected to journald? systemd sets ``JOURNAL_STREAM=<dev>:<inode>`` of
    the stream it connected (systemd.exec(5)); the stream's own fstat must match, or the
    output was redirected elsewhere (a pipe, a file) and is no journal's."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    dev, sep, ino = value.partition(":")
    if not sep or not dev.isdigit() or not ino.isdigit():
        return False
    try:
        stat = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):  # no descriptor (a StringIO) or closed
        return False
    return (stat.st_dev, stat.st_ino) == (int(dev), int(ino))


def _escaped_forms(secret: str) -> set[str]:
    """The spellings under which `secret` can show up in a log line.

    Raw; URL-encoded (query strings, form bodies); as Python's repr writes it inside quotes
    (an object's repr in a log value); XML-escaped (a SOAP envelope logged by zeep); and each
    of those as JSON escapes it, because the rendered line is JSON.
    """
    base = {
        secret,
        # surrogatepass: a secret holding a lone surrogate still has a spelling to redact
        urllib.parse.quote(secret, safe="", errors="surrogatepass"),
        urllib.parse.quote(secret, errors="surrogatepass"),
        urllib.parse.quote_plus(secret, errors="surrogatepass"),
        repr(secret)[1:-1],
        html.escape(secret, quote=True),
        html.escape(secret, quote=False),
    }
    forms = set(base)
    for form in base:
        forms.add(json.dumps(form)[1:-1])
        forms.add(json.dumps(form, ensure_ascii=False)[1:-1])
    forms |= _base64_forms(secret)
    forms.discard("")
    return forms


def _base64(data: bytes) -> set[str]:
    """`data` in standard and URL-safe base64, padded and not."""
    spelled = {base64.b64encode(data).decode("ascii"), base64.urlsafe_b64encode(data).decode()}
    return spelled | {form.rstrip("=") for form in spelled}


def _base64_forms(secret: str) -> set[str]:
    """The spellings of `secret` inside base64 text: an SMTP server echoing AUTH PLAIN or LOGIN
    data in its 535 reply, an HTTP Basic token quoted back by a proxy.

    The whole secret encoded alone; and, for a secret long enough, the part of its encoding
    that is the same wherever it sits in a longer encoded text (at each of the three byte
    offsets modulo 3: the characters that also carry a neighbour's bits are left out), so an
    encoded ``user:password`` or ``\0user\0password`` of any user gives the secret away nowhere.
    """
    data = secret.encode("utf-8", "surrogatepass")
    forms = _base64(data)
    for skip in range(3):
        whole_groups = data[skip:][: (len(data) - skip) // 3 * 3]
        if len(whole_groups) >= _MIN_BASE64_CORE_BYTES:
            forms |= {form for form in _base64(whole_groups) if not form.endswith("=")}
    return forms


class Redactor:
    """Replaces every known secret by ``***``, in text and in nested structures.

    Every non-empty secret is redacted, however short: a secret of one or two characters
    will also blank out unrelated text that happens to contain it (over-redaction is the
    price; leaking a short password is worse). Longer secrets win over shorter ones that they
    contain, because the alternation tries the longest spelling first.

    Thread-safe: `update` builds the new pattern aside and swaps it in with one assignment.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: frozenset[str] = frozenset()
        self._logins: frozenset[tuple[str, str]] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        self.update(secrets)

    def update(self, secrets: Iterable[str], *, logins: Iterable[tuple[str, str]] = ()) -> None:
        """Add `secrets` to the set (empty strings are ignored). Secrets are never removed:
        a rotated password stays redacted, in case an old value is still around in a text.

        `logins` are (user, secret) pairs: their secrets are added, and the base64 of the
        strings that carry both, HTTP Basic's ``user:secret`` and SMTP AUTH PLAIN's
        ``\0user\0secret``, is redacted whole (the user's part of it too).
        """
        logins = [(user, secret) for user, secret in logins if secret]
        with self._lock:
            merged = self._secrets | {s for s in secrets if s} | {s for _, s in logins}
            merged_logins = self._logins | set(logins)
            if merged == self._secrets and merged_logins == self._logins:
                return
            forms = set().union(*(_escaped_forms(s) for s in merged))
            for user, secret in merged_logins:
                forms |= _base64(f"{user}:{secret}".encode("utf-8", "surrogatepass"))
                forms |= _base64(f"\0{user}\0{secret}".encode("utf-8", "surrogatepass"))
            alternation = "|".join(re.escape(f) for f in sorted(forms, key=lambda f: (-len(f), f)))
            self._pattern = re.compile(alternation)
            self._secrets = merged
            self._logins = frozenset(merged_logins)

    def __len__(self) -> int:
        """How many secrets are known (not their spellings)."""
        return len(self._secrets)

    def __repr__(self) -> str:
        # Never the secrets themselves: a Redactor may end up in a log line or a traceback.
        return f"Redactor(<{len(self._secrets)} secrets>)"

    def redact(self, text: str) -> str:
        """`text` with every occurrence of every secret replaced by ``***``."""
        pattern = self._pattern
        if pattern is None:
            return text
        return pattern.sub(REDACTED, text)

    def redact_obj(self, obj: _T) -> _T:
        """A copy of `obj` with every string in it redacted: dict keys and values, list, tuple
        and set items, recursively. Other objects are returned as they are (the rendered log
        line is redacted once more, which covers their repr). Without secrets, `obj` itself."""
        if self._pattern is None:
            return obj
        return cast(_T, self._redact_any(obj))

    def _redact_any(self, obj: object) -> object:
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, dict):
            return {self._redact_any(k): self._redact_any(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self._redact_any(item) for item in obj]
        if isinstance(obj, tuple):
            return tuple(self._redact_any(item) for item in obj)
        if isinstance(obj, set | frozenset):
            return type(obj)(self._redact_any(item) for item in obj)
        return obj


#: The daemon's one redactor: `daemon.config` feeds it the secrets it loads.
REDACTOR: Final = Redactor(())


class _RedactEventDict:
    """structlog processor: redact the whole event dict. Runs last before rendering, after
    format_exc_info has turned exc_info into the ``exception`` text."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        return self._redactor.redact_obj(event_dict)


class _JsonLineRenderer:
    """structlog renderer: one JSON object with the leading keys first, then the rendered line
    redacted once more (a secret inside some object's repr is only visible here). `journal`:
    the line starts with its syslog priority prefix."""

    def __init__(self, redactor: Redactor, *, journal: bool = False) -> None:
        self._redactor = redactor
        self._journal = journal
        self._json = structlog.processors.JSONRenderer()

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> str:
        ordered = {key: event_dict.pop(key) for key in _LEADING_KEYS if key in event_dict}
        ordered.update(event_dict)
        line = self._redactor.redact(str(self._json(logger, method_name, ordered)))
        return journal_priority(ordered.get("level")) + line if self._journal else line


class _JsonLineHandler(logging.StreamHandler[TextIO]):
    """Stdlib handler writing the same JSON lines. Its error path is redacted too: stdlib's
    default handleError prints the record's message and arguments to stderr as they are."""

    def __init__(self, stream: TextIO, redactor: Redactor, *, journal: bool = False) -> None:
        super().__init__(stream)
        self._redactor = redactor
        self._journal = journal

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        line = json.dumps(
            {
                "level": "error",
                "logger": "esd.logs",
                "event": "logging.failed",
                "source_logger": record.name,
                "error": repr(exc),
            }
        )
        # If the stream itself is gone there is nobody left to tell.
        with contextlib.suppress(Exception):
            prefix = journal_priority("error") if self._journal else ""
            self.stream.write(prefix + self._redactor.redact(line) + self.terminator)


class _NamedWriteLogger(structlog.WriteLogger):
    """structlog's WriteLogger with the ``name`` that ``add_logger_name`` reads."""

    def __init__(self, file: TextIO, name: str) -> None:
        super().__init__(file)
        self.name = name


class _NamedWriteLoggerFactory:
    """Logger factory: ``structlog.get_logger(name)`` passes `name` through to here."""

    def __init__(self, file: TextIO) -> None:
        self._file = file

    def __call__(self, *args: Any) -> _NamedWriteLogger:
        name = args[0] if args and isinstance(args[0], str) else _DEFAULT_LOGGER_NAME
        return _NamedWriteLogger(self._file, name)


_installed_handler: _JsonLineHandler | None = None

# The level `configure_logging` set; NOTSET while structlog runs on its defaults (all levels).
_min_level = logging.NOTSET


def _level_number(level: str) -> int:
    name = level.strip().lower()
    if name not in LEVELS:
        raise ConfigError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    return _LEVEL_NUMBERS[name]


def configure_logging(
    level: str = "info",
    *,
    stream: TextIO | None = None,
    redactor: Redactor = REDACTOR,
    journal: bool | None = None,
) -> None:
    """Send structlog and stdlib logging, as redacted JSON lines, to `stream` (stdout).

    `journal`: prefix each line with its syslog priority; None (the default) does so when
    `stream` is the journal stream systemd connected (`writes_to_journal`).

    May be called again (tests do; the daemon does after loading its config, and again when a
    reload changes the level): the previous configuration, including the stdlib handler, is
    replaced. Raises ConfigError for an unknown `level`.
    """
    global _installed_handler, _min_level
    min_level = _level_number(level)
    out = stream if stream is not None else sys.stdout
    if journal is None:
        journal = writes_to_journal(out)

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    tail: list[Processor] = [
        structlog.processors.format_exc_info,
        _RedactEventDict(redactor),
        _JsonLineRenderer(redactor, journal=journal),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(), *tail],
        wrapper_class=structlog.make_filtering_bound_logger(min_level),
        logger_factory=_NamedWriteLoggerFactory(out),
        cache_logger_on_first_use=False,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
    )
    handler = _JsonLineHandler(out, redactor, journal=journal)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    if _installed_handler is not None:
        root.removeHandler(_installed_handler)
    root.addHandler(handler)
    root.setLevel(max(min_level, _THIRD_PARTY_MIN_LEVEL))
    _installed_handler = handler
    _min_level = min_level


def reset_logging() -> None:
    """Undo `configure_logging`: structlog back to its defaults, our stdlib handler removed.
    For tests, which must not leave a handler writing into a closed stream."""
    global _installed_handler, _min_level
    structlog.reset_defaults()
    _min_level = logging.NOTSET
    if _installed_handler is not None:
        root = logging.getLogger()
        root.removeHandler(_installed_handler)
        root.setLevel(logging.WARNING)
        _installed_handler = None


def enabled(level: str) -> bool:
    """Is `level` (one of LEVELS) logged? For a hot path to skip a call whose line would be
    dropped anyway: a structlog call costs microseconds even below the level."""
    return _LEVEL_NUMBERS[level] >= _min_level


def get_logger(name: str, **initial_values: Any) -> FilteringBoundLogger:
    """The structlog logger for component `name` (``esd.push``, ``esd.operator``, ...).

    Safe to call at import time: it resolves the configuration when it first logs, so
    `configure_logging` may run later (or again).
    """
    return cast(FilteringBoundLogger, structlog.get_logger(name, **initial_values))
