"""Every exception esd raises, in one hierarchy a caller can catch at the right level.

    EsdError
    ├── ConfigError                 bad config file: names file, key path, what was expected
    ├── ListenerError               a listening socket (webhooks) cannot be opened
    ├── StoreError                  the SQLite store cannot be opened or used
    │   ├── MigrationError          a schema migration failed or the file is from a newer esd
    │   └── StoreUnavailable        SQLite cannot write now (I/O error, cannot open): retry later
    │       └── StoreFull           the disk (or the file's size limit) is full
    ├── StatechartError
    │   ├── StatechartInvalid       a chart file is malformed
    │   └── TransitionNotAllowed    a trigger the chart lacks, or not allowed from this state
    ├── EventError
    │   └── BadEventPayload         an inbox event whose payload cannot be understood
    ├── DriverError                 anything a provider driver raises
    │   ├── TransientError          worth retrying later: network, 5xx, 429, timeouts
    │   │   ├── NetworkError        connect/read timeout, reset, refused
    │   │   │   └── CallDeadlineExceeded  no whole answer within the call's overall deadline
    │   │   ├── ServerError         5xx from the remote system
    │   │   └── RateLimited         429; carries retry_after
    │   └── PermanentError          retrying will not help: the operator must fix something
    │       ├── AnswerTooLarge      an answer (or WSDL) over its size limit: refused unread
    │       ├── AuthenticationFailed
    │       ├── NotFound
    │       └── BusinessRuleError   validation, "customer not found", ...
    └── OperatorError               operator socket and CLI
        ├── OperatorProtocolError   a request or answer that breaks the socket protocol
        ├── BadArgument             a command names something unknown (account, state, order,
        │                           ...): refused before anything is stored; `esd` exits 2
        ├── UnknownCommand
        └── DaemonNotRunning        no daemon listens on the socket

Like procrastinate, a class's docstring is its default message.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "AnswerTooLarge",
    "AuthenticationFailed",
    "BadArgument",
    "BadEventPayload",
    "BusinessRuleError",
    "CallDeadlineExceeded",
    "ConfigError",
    "DaemonNotRunning",
    "DriverError",
    "EsdError",
    "EventError",
    "ListenerError",
    "MigrationError",
    "NetworkError",
    "NotFound",
    "OperatorError",
    "OperatorProtocolError",
    "PermanentError",
    "RateLimited",
    "ServerError",
    "ShippedFilesMissing",
    "StatechartError",
    "StatechartInvalid",
    "StoreError",
    "StoreFull",
    "StoreUnavailable",
    "TransientError",
    "TransitionNotAllowed",
    "UnknownCommand",
    "cut",
    "quoted",
    "unknown_name",
]

#: the most characters of a value (or a name) an error message quotes
MAX_QUOTED = 80


def cut(text: str, limit: int = MAX_QUOTED) -> str:
    """`text` for an error message, cut to `limit` characters with an ellipsis: a megabyte
    value must not make a megabyte error line."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quoted(value: object, limit: int = MAX_QUOTED) -> str:
    """`repr(value)` for an error message, cut (see `cut`)."""
    if isinstance(value, str) and len(value) > limit:
        value = value[:limit]  # the repr of all of it would only be cut
    return cut(repr(value), limit)


class EsdError(Exception):
    """esd failed."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or type(self).__name__).strip()
        super().__init__(self.message)


class ConfigError(EsdError):
    """The configuration is invalid."""

    def __init__(self, problems: list[ConfigProblem] | str) -> None:
        if isinstance(problems, str):
            problems = [ConfigProblem(file="", key="", message=problems)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ConfigProblem:
    """One thing wrong with the config: where (file, dotted key path) and what was expected."""

    __slots__ = ("file", "key", "message")

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        self.message = message

    def __str__(self) -> str:
        where = ":".join(part for part in (self.file, self.key) if part)
        return f"{where}: {self.message}" if where else self.message

    def __repr__(self) -> str:
        return f"ConfigProblem({self.file!r}, {self.key!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfigProblem) and (
            (self.file, self.key, self.message) == (other.file, other.key, other.message)
        )

    def __hash__(self) -> int:
        return hash((self.file, self.key, self.message))


class ListenerError(EsdError):
    """A listening socket cannot be opened."""


class ShippedFilesMissing(EsdError):
    """A folder of files shipped with esd (statecharts, systemd, examples) is missing."""


class StoreError(EsdError):
    """The store cannot be used."""


class MigrationError(StoreError):
    """The store's schema cannot be migrated."""


class StoreUnavailable(StoreError):
    """The store cannot write now (an I/O error); the same write may succeed later.

    `code` is SQLite's name for the error (`SQLITE_IOERR_WRITE`, `SQLITE_FULL`, ...).
    """

    def __init__(self, message: str | None = None, *, code: str = "") -> None:
        self.code = code
        super().__init__(message)


class StoreFull(StoreUnavailable):
    """The disk under the store is full."""


class StatechartError(EsdError):
    """A statechart problem."""


class StatechartInvalid(StatechartError):
    """A statechart file is malformed."""


class TransitionNotAllowed(StatechartError):
    """The trigger is not allowed from the current state."""

    def __init__(self, chart: str, state: str, trigger: str) -> None:
        self.chart = chart
        self.state = state
        self.trigger = trigger
        super().__init__(f"chart {chart!r} has no trigger {trigger!r} from state {state!r}")


class EventError(EsdError):
    """An inbox event cannot be processed."""


class BadEventPayload(EventError):
    """An event payload is malformed."""


class DriverError(EsdError):
    """A provider driver failed."""


class TransientError(DriverError):
    """A temporary failure: the same call may succeed later."""

    def __init__(self, message: str | None = None, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class NetworkError(TransientError):
    """The remote system could not be reached (timeout, reset, refused)."""


class CallDeadlineExceeded(NetworkError):
    """The remote system did not give a whole answer within the call's overall deadline."""


class ServerError(TransientError):
    """The remote system answered with a server error."""


class RateLimited(TransientError):
    """The remote system asked us to slow down."""


class PermanentError(DriverError):
    """A failure retrying will not fix; an operator must act."""


class AnswerTooLarge(PermanentError):
    """An answer larger than its configured limit was refused before being read whole."""


class AuthenticationFailed(PermanentError):
    """The remote system rejected our credentials."""


class NotFound(PermanentError):
    """The remote system does not have the object asked for."""


class BusinessRuleError(PermanentError):
    """The remote system refused the data (validation, unknown customer, ...)."""


class OperatorError(EsdError):
    """An operator request failed."""


class OperatorProtocolError(OperatorError):
    """The operator socket protocol was broken."""


class BadArgument(OperatorError):
    """An operator command names something that does not exist (an account, a storefront, a
    state, an order, an event) or asks what cannot be done (an import the provider lacks).

    Raised before anything is stored: the message names the argument, says what would do
    ("did you mean ..."), and the CLI exits 2, as for any other usage error.
    """


def unknown_name(what: str, value: str, known: Iterable[str]) -> BadArgument:
    """The BadArgument for `value`, which is no known `what` (account, state, ...): it names the
    closest known one ("did you mean") and lists them all (the first 20)."""
    names = sorted(set(known))
    close = difflib.get_close_matches(value, names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "") if names else "none"
    return BadArgument(f"unknown {what} {quoted(value)}{hint} (known: {listed})")


class UnknownCommand(OperatorError):
    """The daemon does not know this command."""


class DaemonNotRunning(OperatorError):
    """No esd daemon is listening on the operator socket."""
