"""Whether a remote system answers: one record per MIS account and per storefront.

Every call the driver and storefront actors make reports its outcome here (`call`, or
`record_report` for a check that answers ok/failed). What counts:

- a success, and equally a business error (`PermanentError` other than an authentication
  failure): the remote system answered, so the connection works;
- a transient failure (network, timeout, 5xx, 429) and an authentication failure: the
  connection fails;
- anything else (a driver bug, the store unable to write) says nothing about the connection
  and is only counted for the metrics.

The state: `ok`; `degraded` while failures are recent but fewer than `down_after_failures` in
a row or for less than `down_after_seconds`; `down` once both are reached. A single success
makes it `ok` again. The state changes only on evidence (a recorded outcome), never by the
clock alone, so a connection with no calls stays what its last call showed; the periodic
polls (the storefront's reconciliation poll, the MIS status poll, which probes the connection
when it has nothing to ask) keep the evidence coming. `on_change` is called on each change of
state (the alert monitor listens there).

Also kept: the calls per (operation, outcome), plain integers read by `/metrics` at scrape
time (no lock, nothing but an increment on the call path).
"""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from daemon.clock import iso
from daemon.errors import AuthenticationFailed, EsdError, PermanentError, TransientError
from daemon.logs import REDACTOR

__all__ = ["STATE_CODES", "ConnectionHealth"]

#: the connection state as a number, for the `esd_connection_state` gauge
STATE_CODES = {"ok": 0, "degraded": 1, "down": 2}


class ConnectionHealth:
    """ok | degraded | down, with the last success, the last error and the failure streak."""

    def __init__(
        self,
        kind: str,
        name: str,
        *,
        down_after_seconds: float,
        down_after_failures: int,
        now: Callable[[], float] = time.time,
    ) -> None:
        #: "mis" (an account) or "storefront"
        self.kind = kind
        self.name = name
        self.down_after_seconds = down_after_seconds
        self.down_after_failures = down_after_failures
        self._now = now
        self.state = "ok"
        self.last_success_at: float | None = None
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.consecutive_failures = 0
        #: when the current failure streak began (None while ok)
        self.failing_since: float | None = None
        self.down_since: float | None = None
        #: the down episode an alert was raised for (when it was raised), None: none open;
        #: kept by the alert monitor (daemon.alerts.connection_alert), restored at start
        self.alerted_down_at: float | None = None
        #: (operation, outcome) -> calls; outcome: ok | transient | permanent | failed
        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()
        self.on_change: Callable[[ConnectionHealth], None] | None = None

    @property
    def label(self) -> str:
        """The name alerts and `/readyz` use: the account's, or `storefront:<name>`."""
        return self.name if self.kind == "mis" else f"storefront:{self.name}"

    @contextlib.contextmanager
    def call(self, operation: str) -> Iterator[None]:
        """Record the outcome of the remote call made inside the block (exceptions pass)."""
        try:
            yield
        except Exception as exc:
            self.record_exception(operation, exc)
            raise
        else:
            self.record_success(operation)

    def record_success(self, operation: str) -> None:
        self.calls[(operation, "ok")] += 1
        self._answered()

    def record_exception(self, operation: str, exc: BaseException) -> None:
        if isinstance(exc, TransientError | AuthenticationFailed):
            outcome = "transient" if isinstance(exc, TransientError) else "permanent"
            self.calls[(operation, outcome)] += 1
            self._failed(REDACTOR.redact(f"{type(exc).__name__}: {exc}"))
        elif isinstance(exc, PermanentError):
            self.calls[(operation, "permanent")] += 1
            self._answered()  # a business error: the remote system answered
        elif not isinstance(exc, EsdError):
            # A driver bug: nothing learnt about the connection (nor from the store's errors,
            # which are not the call's: those are not counted at all).
            self.calls[(operation, "permanent")] += 1

    def record_report(self, operation: str, ok: bool, detail: str) -> None:
        """A check that answers only ok or not (`test-connection`, the status poll's probe)."""
        if ok:
            self.record_success(operation)
        else:
            self.calls[(operation, "failed")] += 1
            self._failed(REDACTOR.redact(detail))

    def _answered(self) -> None:
        self.last_success_at = self._now()
        if self.state != "ok":
            self.state = "ok"
            self.consecutive_failures = 0
            self.failing_since = None
            self.down_since = None
            self._changed()

    def _failed(self, error: str) -> None:
        now = self._now()
        self.last_error = error
        self.last_error_at = now
        self.consecutive_failures += 1
        if self.failing_since is None:
            self.failing_since = now
        before = self.state
        if (
            self.consecutive_failures >= self.down_after_failures
            and now - self.failing_since >= self.down_after_seconds
        ):
            if self.state != "down":
                self.down_since = now
            self.state = "down"
        elif self.state == "ok":
            self.state = "degraded"
        if self.state != before:
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)

    def as_dict(self) -> dict[str, Any]:
        """For `esd status` (and `/readyz`)."""
        return {
            "kind": self.kind,
            "state": self.state,
            "last_success_at": iso(self.last_success_at),
            "last_error": self.last_error,
            "last_error_at": iso(self.last_error_at),
            "consecutive_failures": self.consecutive_failures,
            "failing_since": iso(self.failing_since),
            "down_since": iso(self.down_since),
        }
