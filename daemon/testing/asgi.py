"""The raw ASGI pieces every sandbox server answers with: the ASGI types, body reading (413
over a limit), whole answers, the "drip" and "huge" streamed answers and their log, hanging up
without an answer, and HTTP Basic checks.

uvicorn gives an ASGI app no way to cut a connection or to notice a client that left during
injected latency; `hang_up` and `still_there_after` do, with the transports that
`daemon.testing.loopback_http.cuttable_protocol` remembers.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import hmac
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

__all__ = [
    "ARRIVED",
    "AnswerPacer",
    "BodyTooLarge",
    "Headers",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "StreamLog",
    "StreamReport",
    "Transports",
    "authorized",
    "basic_authorization",
    "hang_up",
    "read_body",
    "request_header",
    "respond",
    "send_dripped",
    "send_huge",
    "still_there_after",
    "valid_basic",
]

# ASGI, as the sandboxes' raw apps see it
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
Transports = MutableMapping[tuple[str, int], asyncio.Transport]

#: the scope key holding the event-loop time a request arrived at: when the server read its
#: bytes (`daemon.testing.loopback_http.cuttable_protocol`), before any parsing
ARRIVED = "esd.sandbox.arrived"


class BodyTooLarge(Exception):
    """A request body over the sandbox's limit (the sandbox answers 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"Body larger than {limit} bytes")
        self.limit = limit


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None if the client hung up; over `limit` raises."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        if not message.get("more_body", False):
            if size > limit:
                raise BodyTooLarge(limit)
            return b"".join(chunks)


class AnswerPacer:
    """Keeps a sandbox's answers `latency` after each request's arrival, its own acting and
    answering included, as a remote server's are: it learns from each answer sent how much
    earlier than the deadline to wake (acting takes time, and epoll wakes a timer up to 1 ms
    late: millisecond timeouts)."""

    def __init__(self) -> None:
        self._early = 0.0

    def wait(self, latency: float, waited: float) -> float:
        """Seconds still to wait before acting, `waited` seconds after the arrival."""
        return max(latency - self._early - waited, 0.0)

    def answered(self, latency: float, took: float) -> None:
        """An answer went out `took` seconds after its request arrived."""
        late = took - latency
        self._early = min(max(self._early + 0.25 * late, 0.0), latency / 2)


async def still_there_after(seconds: float, receive: Receive) -> bool:
    """Wait `seconds`; False if the client hung up meanwhile."""
    try:
        message = await asyncio.wait_for(receive(), timeout=seconds)
    except TimeoutError:
        return True
    return bool(message["type"] != "http.disconnect")


async def hang_up(transports: Transports, scope: Mapping[str, Any], receive: Receive) -> None:
    """Close the client's TCP connection without answering (a drop fault)."""
    client = scope.get("client")
    transport = transports.get((client[0], client[1])) if client else None
    if transport is None:  # pragma: no cover - every connection is registered
        raise RuntimeError(f"no transport for client {client!r}")
    transport.abort()
    # uvicorn learns of the loss on its next loop turn; wait for it, so that it does not
    # answer 500 for an app that "returned without starting a response".
    while (await receive())["type"] != "http.disconnect":
        pass


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    headers: Sequence[tuple[bytes, bytes]],
) -> None:
    """Send a whole answer: `content_type`, its length, `headers`, then `body`."""
    start = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode("ascii")),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


@dataclasses.dataclass(frozen=True, slots=True)
class StreamReport:
    """One answer the sandbox streamed under a "drip" or "huge" fault: how many body bytes it
    meant to send, how many it handed to the connection, and whether the client hung up first."""

    kind: str  # "drip" | "huge"
    planned: int
    sent: int
    closed_early: bool


class StreamLog:
    """The `StreamReport`s of one sandbox, written on its server thread, read by tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: list[StreamReport] = []

    def add(self, report: StreamReport) -> None:
        with self._lock:
            self._reports.append(report)

    def reports(self) -> list[StreamReport]:
        with self._lock:
            return list(self._reports)

    def clear(self) -> None:
        with self._lock:
            self._reports.clear()


async def _until_disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _stream(
    send: Send,
    receive: Receive,
    start: Message,
    parts: Iterator[bytes],
    interval: float,
) -> tuple[int, bool]:
    """Send `start`, then each of `parts` (`interval` seconds apart), stopping when the client
    hangs up: (body bytes handed to the connection, did the client hang up first)."""
    await send(start)
    gone = asyncio.ensure_future(_until_disconnected(receive))
    sent = 0
    try:
        for part in parts:
            if gone.done():
                return sent, True
            await send({"type": "http.response.body", "body": part, "more_body": True})
            sent += len(part)
            if interval > 0:
                await asyncio.wait({gone}, timeout=interval)
            else:
                await asyncio.sleep(0)  # a turn for the disconnect to be seen
        if gone.done():
            return sent, True
        await send({"type": "http.response.body", "body": b""})
        return sent, False
    finally:
        gone.cancel()


async def send_dripped(
    send: Send,
    receive: Receive,
    status: int,
    body: bytes,
    content_type: bytes,
    interval: float,
    log: StreamLog,
) -> None:
    """Send a whole answer as `respond` does, but its body one byte every `interval` seconds
    (a "drip" fault: a server, or a proxy, that never times out a read yet never finishes)."""
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode("ascii")),
        ],
    }
    parts = (body[i : i + 1] for i in range(len(body)))
    sent, early = await _stream(send, receive, start, parts, interval)
    log.add(StreamReport("drip", len(body), sent, early))


_HUGE_PART = 64 * 1024


async def send_huge(
    send: Send, receive: Receive, prefix: bytes, size: int, content_type: bytes, log: StreamLog
) -> None:
    """A 200 answer of `size` bytes: `prefix` then spaces, chunked (no Content-Length, so only
    a client that counts what it reads can stop it), as fast as the client reads it."""
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", content_type)],
    }

    def parts() -> Iterator[bytes]:
        yield prefix
        left = size - len(prefix)
        filler = b" " * _HUGE_PART
        while left > 0:
            yield filler[: min(left, _HUGE_PART)]
            left -= _HUGE_PART

    sent, early = await _stream(send, receive, start, parts(), 0.0)
    log.add(StreamReport("huge", size, sent, early))


def request_header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of the request header `name` (lower case), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def basic_authorization(login: str, password: str) -> bytes:
    """The Authorization header value HTTP Basic sends for these credentials."""
    token = base64.b64encode(f"{login}:{password}".encode()).decode("ascii")
    return f"Basic {token}".encode("ascii")


def authorized(scope: Scope, expected: bytes) -> bool:
    """Does the request carry the `expected` Basic authorization (compared in constant time)?"""
    value = request_header(scope, b"authorization")
    return value is not None and valid_basic(value) and hmac.compare_digest(value, expected)


def valid_basic(value: bytes) -> bool:
    """Is `value` a well-formed Basic authorization (so junk is a 401, not a crash)?"""
    scheme, _, token = value.partition(b" ")
    if scheme.lower() != b"basic":
        return False
    try:
        base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True
