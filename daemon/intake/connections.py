"""The listener's guard on connections: a cap, an idle and a header timeout, quiet accept errors.

uvicorn alone leaves a connection that never sends a request open forever: its keep-alive
timer starts only after a response, and `limit_concurrency` is checked only once a request's
head has been parsed (and counts the connection itself, and all tasks). So a thousand clients
that connect and say nothing used up every descriptor. We subclass its h11 protocol, the
least fragile place to add this: the hooks used (connection_made/lost, data_received and
h11's `their_state`) are the asyncio.Protocol interface and h11's public API, and the timer
handling mirrors uvicorn's own keep-alive timer. No uvicorn internals are patched.

- Cap: `connection_made` counts the connections being served; one over the cap is answered a
  503 with Retry-After at once (before it sends anything) and closed.
- Header timeout: from the accept, and from the first byte of each later request, the head
  must be complete within `header_timeout_seconds`, else the connection is closed.
- Idle timeout: uvicorn's keep-alive timer, with our value.
- Body timeout: once a request's head is in, its body must be complete within
  `idle_timeout_seconds`, else the connection is closed (the app sees a disconnect and stores
  nothing): without it a client that sent a head and then stalled held its connection forever.
- Accept errors (EMFILE/ENFILE/...): asyncio reports each failed accept to the loop's
  exception handler, which logs a traceback; `AcceptFailureLog` logs one line per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import time
from collections.abc import Callable
from typing import Any, ClassVar

import h11
import structlog
from uvicorn.protocols.http.h11_impl import H11Protocol

from daemon.intake.limits import LINGERING_MAX, ListenerLimits

__all__ = ["AcceptFailureLog", "ConnectionCounters", "GuardedH11Protocol", "guarded_protocol"]

log = structlog.get_logger("esd.intake")

#: how long a client is told to wait before it tries again after a 503 for the cap
RETRY_AFTER_SECONDS = 5
_REFUSAL_BODY = b'{"ok": false, "error": "too many connections, retry later"}'
_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: application/json\r\n"
    b"content-length: %d\r\n"
    b"retry-after: %d\r\n"
    b"connection: close\r\n"
    b"\r\n%b" % (len(_REFUSAL_BODY), RETRY_AFTER_SECONDS, _REFUSAL_BODY)
)
#: at most this long a refused connection waits for its client to close after the 503
_LINGER_SECONDS = 2.0


class ConnectionCounters:
    """What the guard saw, for `esd status` (shared by all connections of one listener)."""

    def __init__(self) -> None:
        self.open = 0
        self.refused = 0
        self.header_timeouts = 0
        self.body_timeouts = 0
        self.accept_failures = 0
        self.lingering = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "open": self.open,
            "refused": self.refused,
            "header_timeouts": self.header_timeouts,
            "body_timeouts": self.body_timeouts,
            "accept_failures": self.accept_failures,
        }


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a connection cap and a header timeout (see module doc)."""

    limits: ClassVar[ListenerLimits] = ListenerLimits()
    counters: ClassVar[ConnectionCounters]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Instead of uvicorn's integer Config.timeout_keep_alive: ours may be a fraction.
        self.timeout_keep_alive = self.limits.idle_timeout_seconds  # type: ignore[assignment]
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._served = False
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        counters = self.counters
        if counters.open >= self.limits.max_connections:
            self._refuse(transport)
            return
        counters.open += 1
        self._served = True
        super().connection_made(transport)
        self._arm_header_timer()

    def _refuse(self, transport: asyncio.Transport) -> None:
        """Answer 503 now and close: the client hears why and when to come back, and the
        descriptor is free again within a moment."""
        counters = self.counters
        counters.refused += 1
        self._refused = True
        self.transport = transport
        transport.write(_REFUSAL)
        if counters.lingering >= LINGERING_MAX:
            transport.close()
            return
        # Closing while the client's request is still unread would make the kernel send a
        # reset, which may destroy the 503 before the client reads it. So: FIN after the 503,
        # read and drop what comes, close when the client does (uvicorn's eof_received lets
        # the transport close itself) or after a short linger.
        counters.lingering += 1
        transport.write_eof()
        self._linger_timer = self.loop.call_later(_LINGER_SECONDS, transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()
        if self._refused:
            if self._linger_timer is not None:
                self._linger_timer.cancel()
                self.counters.lingering -= 1
                self._linger_timer = None
            return
        if self._served:
            self._served = False
            self.counters.open -= 1
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the 503 is out; the request is dropped unread
        super().data_received(data)
        self._watch_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A pipelined request already buffered may have started a new head.
        self._watch_headers()

    def _watch_headers(self) -> None:
        """Time the head of a request from its first byte; stop once it is complete. Then
        time its body, until it is complete."""
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            self._cancel_body_timer()
        elif self._body_timer is None:
            self._body_timer = self.loop.call_later(
                self.limits.idle_timeout_seconds, self._body_timeout
            )
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            self._cancel_header_timer()
        elif self.timeout_keep_alive_task is None:
            # IDLE with no keep-alive timer armed: part of a head has come in (uvicorn
            # cancels its keep-alive timer on every data_received).
            self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(
                self.limits.header_timeout_seconds, self._header_timeout
            )

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timeout(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        self.counters.body_timeouts += 1
        with contextlib.suppress(h11.LocalProtocolError):
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        self.counters.header_timeouts += 1
        # No 408: a client this slow is most likely not listening; nginx closes silently too.
        # (h11 refuses if it is mid-response; the transport is closed all the same)
        with contextlib.suppress(h11.LocalProtocolError):
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()


def guarded_protocol(
    limits: ListenerLimits, counters: ConnectionCounters
) -> type[GuardedH11Protocol]:
    """A protocol class bound to one listener's limits and counters (uvicorn takes a class
    and constructs it with its own arguments, so they travel as class attributes)."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"limits": limits, "counters": counters},
    )


#: the errors for which asyncio's accept loop says "socket.accept() out of system resource"
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class AcceptFailureLog:
    """A loop exception handler that logs failed accepts once per `interval_seconds` with a
    count of those left out, and hands everything else to the handler it replaced.

    asyncio stops accepting for a second after such a failure, then tries again; with every
    descriptor in use each try fails, and the default handler logged a traceback each time
    (1.2 million lines in 2.5 minutes in the field)."""

    def __init__(
        self,
        counters: ConnectionCounters,
        previous: ExceptionHandler | None,
        *,
        interval_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.counters = counters
        self.previous = previous
        self.interval_seconds = interval_seconds
        self.clock = clock
        self.suppressed = 0
        self._last: float | None = None

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if not (
            isinstance(exc, OSError)
            and exc.errno in _RESOURCE_ERRNOS
            and str(context.get("message", "")).startswith("socket.accept()")
        ):
            if self.previous is not None:
                self.previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        self.counters.accept_failures += 1
        now = self.clock()
        if self._last is not None and now - self._last < self.interval_seconds:
            self.suppressed += 1
            return
        log.error(
            "listener.accept_failed",
            error=exc.strerror,
            errno=errno.errorcode.get(exc.errno or 0, str(exc.errno)),
            suppressed=self.suppressed,
            interval_seconds=self.interval_seconds,
        )
        self._last = now
        self.suppressed = 0
