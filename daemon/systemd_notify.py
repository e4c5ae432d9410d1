"""The systemd notify protocol (sd_notify(3)) without libsystemd.

systemd passes the daemon an AF_UNIX datagram socket in ``$NOTIFY_SOCKET``; the daemon sends
newline-separated ``KEY=VALUE`` fields to it: ``READY=1`` once it serves, ``STOPPING=1`` when it
drains, ``STATUS=...`` for ``systemctl status``, ``WATCHDOG=1`` at least every ``WatchdogSec``.

The protocol logic (reading the environment, encoding a message) is pure functions; `Notifier`
only adds the socket. Sending never raises: systemd going away (or not being there at all, as
in tests and ``esd run`` from a shell) must not take the daemon down, so failures are logged.

STATUS= is readable by every local user (``systemctl status esd``), so every field sent is
passed through the secret redactor first.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import anyio

from daemon.closing import Closing
from daemon.logs import REDACTOR, Redactor, get_logger

__all__ = [
    "Notifier",
    "NotifyConfig",
    "encode_message",
    "notify_config_from_environ",
    "socket_address",
]

log = get_logger("esd.systemd")

# STATUS= is one line in `systemctl status`; a multi-page error text does not belong there.
_MAX_STATUS_CHARS: Final = 400


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """What the environment says: where to notify (None: nowhere) and how often to ping the
    watchdog (None: no watchdog)."""

    address: str | None
    watchdog_interval: float | None


def socket_address(notify_socket: str) -> str | None:
    """The AF_UNIX address for a ``$NOTIFY_SOCKET`` value, or None if it is not one we can use.

    ``/run/systemd/notify`` is a file-system socket; ``@name`` is ``name`` in the abstract
    namespace (a leading NUL byte). Anything else (empty, relative, ``vsock:`` of newer
    systemd) is not supported.
    """
    if notify_socket.startswith("/"):
        return notify_socket
    if notify_socket.startswith("@") and len(notify_socket) > 1:
        return "\0" + notify_socket[1:]
    return None


def notify_config_from_environ(environ: Mapping[str, str], pid: int) -> NotifyConfig:
    """Read ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` as sd_notify(3) does.

    The watchdog is ours only if ``WATCHDOG_PID`` is unset or equals `pid` (a child process
    that inherited the environment must not ping for us), and only when there is a socket to
    ping. The interval is half of ``WATCHDOG_USEC``, as sd_watchdog_enabled(3) recommends.
    """
    raw_socket = environ.get("NOTIFY_SOCKET", "")
    address = socket_address(raw_socket) if raw_socket else None
    if raw_socket and address is None:
        log.warning("systemd.notify_socket_unsupported", notify_socket=raw_socket)
    if address is None:
        return NotifyConfig(address=None, watchdog_interval=None)
    return NotifyConfig(address=address, watchdog_interval=_watchdog_interval(environ, pid))


def _watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    raw_usec = environ.get("WATCHDOG_USEC", "")
    if not raw_usec:
        return None
    raw_pid = environ.get("WATCHDOG_PID", "")
    if raw_pid:
        try:
            watchdog_pid = int(raw_pid)
        except ValueError:
            log.warning("systemd.watchdog_pid_invalid", watchdog_pid=raw_pid)
            return None
        if watchdog_pid != pid:
            return None
    try:
        usec = int(raw_usec)
    except ValueError:
        usec = 0
    if usec <= 0:
        log.warning("systemd.watchdog_usec_invalid", watchdog_usec=raw_usec)
        return None
    return usec / 2 / 1_000_000


def encode_message(fields: tuple[str, ...] | list[str]) -> bytes:
    """One notify datagram: the ``KEY=VALUE`` fields joined by newlines, UTF-8.

    Raises ValueError for a field that is not ``KEY=VALUE`` or that holds a newline (it would
    be read as a second field): that is a bug in the caller, not a runtime condition.
    """
    if not fields:
        raise ValueError("sd_notify message needs at least one KEY=VALUE field")
    for field in fields:
        key, sep, _ = field.partition("=")
        if not sep or not key:
            raise ValueError(f"sd_notify field {field!r} is not KEY=VALUE")
        if "\n" in field:
            raise ValueError(f"sd_notify field {key}= holds a newline")
    return "\n".join(fields).encode("utf-8")


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) > _MAX_STATUS_CHARS:
        return flat[: _MAX_STATUS_CHARS - 3] + "..."
    return flat


class Notifier(Closing):
    """Talks to systemd over ``$NOTIFY_SOCKET``; every method is a no-op without it."""

    def __init__(self, config: NotifyConfig, *, redactor: Redactor = REDACTOR) -> None:
        self._address = config.address
        self.watchdog_interval: float | None = config.watchdog_interval
        self._redactor = redactor
        self._socket: socket.socket | None = None
        if self._address is not None:
            # Not connected: sendto() resolves the address each time, so a systemd that
            # re-executed itself (daemon-reexec) is still reached.
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.setblocking(False)

    @classmethod
    def from_environ(
        cls, environ: Mapping[str, str] | None = None, *, redactor: Redactor = REDACTOR
    ) -> Notifier:
        """A notifier for the socket systemd gave us (`environ` defaults to os.environ)."""
        env = os.environ if environ is None else environ
        return cls(notify_config_from_environ(env, os.getpid()), redactor=redactor)

    @property
    def enabled(self) -> bool:
        """Whether there is a systemd to talk to."""
        return self._socket is not None

    def notify(self, *fields: str) -> None:
        """Send the ``KEY=VALUE`` `fields` as one datagram. Errors are logged, never raised."""
        if self._socket is None or self._address is None:
            return
        data = encode_message([self._redactor.redact(field) for field in fields])
        try:
            self._socket.sendto(data, self._address)
        except OSError as exc:
            keys = [field.partition("=")[0] for field in fields]
            log.warning("systemd.notify_failed", fields=keys, error=str(exc))

    def ready(self, status: str = "") -> None:
        """The daemon serves: systemd finishes `systemctl start` and starts dependents."""
        self.notify("READY=1", *self._status_field(status))

    def stopping(self, status: str = "") -> None:
        """The daemon is draining on its way out."""
        self.notify("STOPPING=1", *self._status_field(status))

    def reloading(self) -> None:
        """The daemon reloads its config; send `ready` when done. MONOTONIC_USEC is what
        Type=notify-reload (systemd >= 253) requires; older systemd ignores it."""
        monotonic_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.notify("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec}")

    def status(self, text: str) -> None:
        """One line for ``systemctl status``; whitespace is folded, long texts shortened."""
        self.notify(f"STATUS={_one_line(text)}")

    def watchdog(self) -> None:
        """Tell the watchdog we are alive."""
        self.notify("WATCHDOG=1")

    def extend_timeout(self, seconds: float) -> None:
        """Ask for `seconds` more before systemd times out the start or stop in progress."""
        if seconds <= 0:
            raise ValueError(f"extend_timeout needs a positive number of seconds, got {seconds}")
        self.notify(f"EXTEND_TIMEOUT_USEC={round(seconds * 1_000_000)}")

    async def run_watchdog(self, *, is_healthy: Callable[[], bool] = lambda: True) -> None:
        """Ping the watchdog every `watchdog_interval` seconds, forever, while `is_healthy()`.

        Pinging from the event loop proves the loop runs; `is_healthy` lets the daemon add its
        own checks (workers stuck, store unusable). When it is False, or raises, the ping is
        skipped and systemd restarts us once WatchdogSec passes without one. Returns at once
        when there is no watchdog; cancel the task to stop it.
        """
        interval = self.watchdog_interval
        if interval is None or self._socket is None:
            return
        while True:
            try:
                healthy = is_healthy()
            except Exception as exc:
                log.warning("watchdog.skipped", reason="health check failed", error=str(exc))
            else:
                if healthy:
                    self.watchdog()
                else:
                    log.warning("watchdog.skipped", reason="unhealthy")
            await anyio.sleep(interval)

    def close(self) -> None:
        """Close the socket; later calls are no-ops."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _status_field(self, status: str) -> tuple[str, ...]:
        return (f"STATUS={_one_line(status)}",) if status else ()
