"""What every sandbox server shares: uvicorn in a thread, cuttable connections, body reading,
fault plans, and the command line that serves one.

The sandboxes (reference MIS, Pressero, Pace) are real HTTP servers on loopback that tests and
the demo talk to over sockets. Their fault knobs need two things uvicorn does not give an
ASGI app: cutting a connection without an answer (the "dropped connection" and "lost answer
after commit" faults), and noticing that a client hung up during injected latency. This
module gives them both, and the thread that serves them.

The two JSON sandboxes (reference MIS, Pressero) also share their frame: `JsonApp` (body limit,
JSON answers, a request's `FaultPlan` carried out), `JsonStore` (state behind one lock, fault
knobs, routed handlers) and the `Route` table they dispatch on. The Pace sandbox speaks SOAP
and uses only the lower pieces.
"""

from __future__ import annotations

import abc
import argparse
import asyncio
import base64
import binascii
import copy
import dataclasses
import hmac
import json
import math
import random
import re
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import (
    Awaitable,
    Callable,
    Collection,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.utils import get_remote_addr

__all__ = [
    "BodyTooLarge",
    "FaultPlan",
    "Headers",
    "JsonAnswer",
    "JsonApp",
    "JsonStore",
    "LoopbackSandbox",
    "Message",
    "Receive",
    "Rejected",
    "Route",
    "Scope",
    "Send",
    "StreamLog",
    "StreamReport",
    "ThreadedServer",
    "authorized",
    "basic_authorization",
    "check_fault_knobs",
    "check_http_fail_next",
    "cuttable_protocol",
    "fail_next_entries",
    "hang_up",
    "match_route",
    "read_body",
    "request_header",
    "respond",
    "route",
    "sandbox_arguments",
    "send_dripped",
    "send_huge",
    "serve_until_signalled",
    "still_there_after",
    "take_http_fail_next",
    "valid_basic",
]

# ASGI, as the sandboxes' raw apps see it
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
Transports = MutableMapping[tuple[str, int], asyncio.Transport]


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


def cuttable_protocol(transports: Transports) -> type[H11Protocol]:
    """uvicorn's h11 protocol, remembering each connection's transport (by scope["client"])
    in `transports`, so the app can abort it: a real reset, not a 500."""

    class _CuttableH11Protocol(H11Protocol):
        _peer: tuple[str, int] | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            # the same function uvicorn uses to fill scope["client"]
            self._peer = get_remote_addr(transport)
            if self._peer is not None:
                transports[self._peer] = transport

        def connection_lost(self, exc: Exception | None) -> None:
            if self._peer is not None and transports.get(self._peer) is self.transport:
                del transports[self._peer]
            super().connection_lost(exc)

    return _CuttableH11Protocol


class ThreadedServer:
    """An ASGI app served by uvicorn from a daemon thread on a loopback socket."""

    def __init__(self, app: Any, transports: Transports, *, host: str, port: int, name: str):
        self._app = app
        self._transports = transports
        self._host = host
        self._port = port
        self._name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.url: str | None = None

    def start(self, timeout: float = 10.0) -> str:
        """Bind, serve, and return the base URL once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError(f"the {self._name} is already started")
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
        # without it every kept-alive answer waits ~40 ms for a delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._port))
        except OSError:
            sock.close()
            raise
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            http=cuttable_protocol(self._transports),
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,  # scope["client"] must stay the real peer
            server_header=False,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=self._name, daemon=True
        )
        self._server, self._thread, self._socket = server, thread, sock
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {self._name} did not start on port {port}")
            time.sleep(0.005)
        host = f"[{self._host}]" if family == socket.AF_INET6 else self._host
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        """Stop serving; cut open connections; wait for the thread."""
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        self.url = None
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(10)
            if thread.is_alive():  # pragma: no cover - a stuck request
                server.force_exit = True
                thread.join(10)
        if sock is not None:
            sock.close()


def check_fault_knobs(
    knobs: Mapping[str, Any],
    known: Mapping[str, object],
    fail_next: Callable[[object], list[dict[str, Any]]],
) -> dict[str, Any]:
    """Check fault knobs against `known` (name -> default); raise ValueError naming the first
    wrong one. Numbers are >= 0 and finite, `*_rate` a fraction, `seed` an integer or null,
    booleans stay booleans, and `fail_next` is checked by the sandbox's own `fail_next`."""
    checked: dict[str, Any] = {}
    for name, value in knobs.items():
        where = f"faults.{name}"
        if name not in known:
            raise ValueError(f"{where}: unknown knob (known: {', '.join(known)})")
        if name == "fail_next":
            checked[name] = fail_next(value)
        elif isinstance(known[name], bool):
            if not isinstance(value, bool):
                raise ValueError(f"{where}: must be true or false")
            checked[name] = value
        elif name == "seed":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{where}: must be an integer or null")
            checked[name] = value
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{where}: must be a number >= 0")
        elif not math.isfinite(value):
            raise ValueError(f"{where}: must be finite")
        elif name.endswith("_rate") and value > 1:
            raise ValueError(f"{where}: must be a fraction from 0 to 1")
        else:
            checked[name] = value
    return checked


def fail_next_entries(
    value: object,
    matching_keys: Collection[str],
    kinds: Sequence[str],
    *,
    default_message: str = "rejected by an injected fault",
) -> Iterator[tuple[str, Mapping[str, Any], str, str]]:
    """The entries of a sandbox's `fail_next` queue, each with where it is (for errors), its
    kind and message checked; only `matching_keys`, `kind` and `message` are allowed. Raises
    ValueError naming the first wrong entry; the caller checks its own matching keys."""
    if not isinstance(value, list):
        raise ValueError("faults.fail_next: must be a list of objects")
    for i, entry in enumerate(value):
        where = f"faults.fail_next[{i}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: must be an object")
        unknown = sorted(set(entry) - {*matching_keys, "kind", "message"})
        if unknown:
            raise ValueError(f"{where}.{unknown[0]}: unknown key")
        kind = entry.get("kind")
        if not isinstance(kind, str) or kind not in kinds:
            raise ValueError(f"{where}.kind: must be one of {', '.join(kinds)}")
        message = entry.get("message", default_message)
        if not isinstance(message, str):
            raise ValueError(f"{where}.message: must be a string")
        yield where, entry, kind, message


def check_http_fail_next(
    value: object, kinds: Sequence[str], *, fold_case: bool = False
) -> list[dict[str, Any]]:
    """Check an HTTP sandbox's `fail_next` queue: one-shot faults matched by path prefix and
    method; raise ValueError naming the first wrong entry. `fold_case`: paths compare
    case-insensitively (as Pressero's routing does)."""
    entries = []
    checked = fail_next_entries(value, {"path_prefix", "method"}, kinds)
    for where, entry, kind, message in checked:
        prefix = entry.get("path_prefix", "/api")
        method = entry.get("method")
        if not isinstance(prefix, str):
            raise ValueError(f"{where}.path_prefix: must be a string")
        if method is not None and not isinstance(method, str):
            raise ValueError(f"{where}.method: must be a string or null")
        entries.append(
            {
                "path_prefix": prefix.lower() if fold_case else prefix,
                "method": method.upper() if method else None,
                "kind": kind,
                "message": message,
            }
        )
    return entries


def take_http_fail_next(
    queue: list[dict[str, Any]], method: str, path: str
) -> dict[str, Any] | None:
    """Take the first entry of a `check_http_fail_next` queue that matches the request off the
    queue (`path` lower-cased where the queue was checked with `fold_case`)."""
    for i, entry in enumerate(queue):
        if path.startswith(entry["path_prefix"]) and entry["method"] in (None, method):
            del queue[i]
            return entry
    return None


#: the "drip" and "huge" faults' defaults: a byte every half second, a 200 MB answer
DRIP_INTERVAL = 0.5
HUGE_BYTES = 200 * 1000 * 1000


@dataclasses.dataclass(frozen=True, slots=True)
class FaultPlan:
    """What the faults do to one request, decided when it arrives."""

    latency: float = 0.0  # seconds before acting
    before: str | None = None  # a fault kind acted on instead of the request ("drop", "503", ...)
    drop_after: bool = False  # act, then hang up
    message: str = ""  # what a fault that answers says
    retry_after: float = 1.0  # seconds, for a 429
    drip_interval: float = DRIP_INTERVAL  # seconds between the bytes of a "drip" answer
    huge_bytes: int = HUGE_BYTES  # the size of a "huge" answer

    @classmethod
    def queued(
        cls,
        entry: Mapping[str, Any],
        latency: float,
        retry_after: float = 1.0,
        faults: Mapping[str, Any] | None = None,
    ) -> FaultPlan:
        """The plan of a one-shot `fail_next` entry (its "kind" and "message"); `faults` give
        the "drip" and "huge" sizes (`drip_interval_ms`, `huge_bytes`) where the sandbox has
        them."""
        if entry["kind"] == "drop_after_commit":
            return cls(latency, drop_after=True)
        knobs = faults or {}
        return cls(
            latency,
            entry["kind"],
            False,
            entry["message"],
            retry_after,
            knobs.get("drip_interval_ms", DRIP_INTERVAL * 1000) / 1000,
            int(knobs.get("huge_bytes", HUGE_BYTES)),
        )


# -- the frame of the JSON sandboxes ------------------------------------------------------------


class Rejected(Exception):
    """A request a JSON sandbox refuses: answered with `status` and `message` as its error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclasses.dataclass(frozen=True, slots=True)
class JsonAnswer:
    """An answer to send: `body` as JSON."""

    status: int
    body: object
    headers: Headers = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    """One routed request: `name` ("POST /api/jobs/{job_id}/lines") keys the call counts;
    `handler` names the `JsonStore` method that answers it, without its leading underscore."""

    method: str
    pattern: re.Pattern[str]
    name: str
    handler: str


def route(method: str, template: str, handler: str, *, fold_case: bool = False) -> Route:
    """A route whose `{name}` segments of `template` become path parameters; `fold_case`: the
    path matches case-insensitively, with or without a trailing slash (as Pressero's routing)."""
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    if fold_case:
        return Route(method, re.compile(f"^{regex}/?$", re.I), f"{method} {template}", handler)
    return Route(method, re.compile(f"^{regex}$"), f"{method} {template}", handler)


def match_route(
    routes: Sequence[Route], method: str, path: str
) -> tuple[Route | None, dict[str, str], list[str]]:
    """(the route, its path parameters, the methods the path allows); no route: (None, {}, the
    methods other routes of the path allow)."""
    allowed = []
    for candidate in routes:
        found = candidate.pattern.match(path)
        if found is None:
            continue
        if candidate.method == method:
            return candidate, found.groupdict(), [method]
        allowed.append(candidate.method)
    return None, {}, allowed


Handler = Callable[[dict[str, str], dict[str, list[str]], bytes], JsonAnswer]


class JsonStore(abc.ABC):
    """A JSON sandbox's data, fault knobs and call counts behind one lock.

    Public methods take the lock; `_`-methods expect it held. A subclass names its knobs
    (`fault_knobs`, with at least latency_ms, retry_after, drop_rate, error_rate, seed and
    fail_next; `fault_kinds`; `fold_case`) and error key, sets `faults`, `rng` and `calls` in
    `_reset`, may roll more dice in `_more_dice`, and has a handler
    `_<Route.handler>(params, query, body)` per route; the admin routes "admin_state" and
    "admin_reset" are answered here.
    """

    #: the key of `{key: message}`, the body of an error answer
    error_key = "error"
    #: fault knob -> default; the `fail_next` kinds; are `fail_next` paths case-insensitive?
    fault_knobs: Mapping[str, object]
    fault_kinds: Sequence[str]
    fold_case = False

    faults: dict[str, Any]
    rng: random.Random
    calls: Counter[str]  # route name -> API calls

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def plan(self, method: str, path: str, call: str) -> FaultPlan:
        """Count an API call (`call`: its route's name) and decide what the faults do to it:
        the first matching `fail_next` entry, or else the dice."""
        with self._lock:
            self.calls[call] += 1
            faults = self.faults
            latency = faults["latency_ms"] / 1000
            retry_after = float(faults["retry_after"])
            queued = path.lower() if self.fold_case else path
            entry = take_http_fail_next(faults["fail_next"], method, queued)
            if entry is not None:
                return FaultPlan.queued(entry, latency, retry_after, faults)
            # Dice are rolled in a fixed order, only for knobs that are on, so a seed replays.
            for knob, kind in (("drop_rate", "drop"), ("error_rate", "503")):
                if faults[knob] and self.rng.random() < faults[knob]:
                    return FaultPlan(latency, kind)
            return self._more_dice(latency, retry_after)

    def check_faults(self, knobs: Mapping[str, Any]) -> dict[str, Any]:
        """Check fault knobs; raise ValueError naming the first wrong one."""
        return check_fault_knobs(knobs, self.fault_knobs, self._check_fail_next)

    def set_faults(self, knobs: Mapping[str, Any]) -> dict[str, Any]:
        """Change the given fault knobs; return all of them."""
        checked = self.check_faults(knobs)
        with self._lock:
            return self._apply_faults(checked)

    def state(self) -> dict[str, Any]:
        with self._lock:
            return self._snapshot()

    def reset(self) -> None:
        with self._lock:
            self._reset()

    def handle(self, route: Route, params: dict[str, str], query: str, body: bytes) -> JsonAnswer:
        """Run one routed request; refusals become their error answers."""
        handler: Handler = getattr(self, f"_{route.handler}")
        try:
            with self._lock:
                return handler(params, parse_qs(query, keep_blank_values=True), body)
        except Rejected as exc:
            return JsonAnswer(exc.status, {self.error_key: exc.message})

    @abc.abstractmethod
    def _reset(self) -> None:
        """Back to the seeded state (sets `faults` to their defaults and a fresh `rng`)."""

    @abc.abstractmethod
    def _snapshot(self) -> dict[str, Any]:
        """A copy of everything, for `state`."""

    def _more_dice(self, latency: float, retry_after: float) -> FaultPlan:
        """The plan once drop and error were not rolled: a subclass may roll its own knobs."""
        return FaultPlan(latency)

    def _apply_faults(self, checked: Mapping[str, Any]) -> dict[str, Any]:
        self.faults.update(checked)
        if "seed" in checked:
            self.rng = random.Random(checked["seed"])
        return copy.deepcopy(self.faults)

    def _check_fail_next(self, value: object) -> list[dict[str, Any]]:
        return check_http_fail_next(value, self.fault_kinds, fold_case=self.fold_case)

    def _admin_state(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        return JsonAnswer(200, self._snapshot())

    def _admin_reset(
        self, params: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> JsonAnswer:
        self._reset()
        return JsonAnswer(200, {"reset": True})


class JsonApp(abc.ABC):
    """The raw ASGI app of a JSON sandbox: reads the body (413 over `max_body`), answers JSON,
    and carries out the `FaultPlan` of an API request. A subclass routes in `serve` and says
    in `injected` what an injected fault answers."""

    content_type = b"application/json"
    #: the key of `{key: message}`, the body of an error answer
    error_key = "error"
    max_body = 1024 * 1024

    def __init__(self) -> None:
        # client (host, port) -> its transport; touched only on the server's event loop
        self.transports: dict[tuple[str, int], asyncio.Transport] = {}
        self.streams = StreamLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; websockets are not served
            return
        try:
            body = await read_body(receive, self.max_body)
        except BodyTooLarge as exc:
            await self.respond(send, self.error(413, str(exc)))
            return
        if body is None:  # the client left before sending its request
            return
        await self.serve(scope, receive, send, body)

    @abc.abstractmethod
    async def serve(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        """Route and answer one request whose whole `body` was read."""

    @abc.abstractmethod
    def injected(self, plan: FaultPlan) -> JsonAnswer:
        """The answer of an injected fault (`plan.before`, not "drop") instead of acting."""

    def error(self, status: int, message: str, headers: Headers | None = None) -> JsonAnswer:
        """An error answer: `{error_key: message}`."""
        return JsonAnswer(status, {self.error_key: message}, headers or [])

    async def respond(self, send: Send, answer: JsonAnswer) -> None:
        body = json.dumps(answer.body).encode()
        await respond(send, answer.status, body, self.content_type, answer.headers)

    async def carry_out(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        plan: FaultPlan,
        act: Callable[[], JsonAnswer],
    ) -> None:
        """Answer an API request as its `plan` says: after the latency (nothing is done if the
        client leaves meanwhile), hang up or answer the injected fault instead of acting, or
        act (`act`) and then answer, or hang up (the lost answer)."""
        if plan.latency > 0 and not await still_there_after(plan.latency, receive):
            return  # the client gave up waiting; nothing was done
        if plan.before == "drop":
            await hang_up(self.transports, scope, receive)
            return
        if plan.before == "huge":  # nothing is done: a proxy's runaway answer
            prefix = b'{"items": ['
            await send_huge(send, receive, prefix, plan.huge_bytes, self.content_type, self.streams)
            return
        if plan.before not in (None, "drip"):
            await self.respond(send, self.injected(plan))
            return
        answer = act()
        if plan.drop_after:
            await hang_up(self.transports, scope, receive)
            return
        if plan.before == "drip":  # done, and its answer dripped
            body = json.dumps(answer.body).encode()
            await send_dripped(
                send,
                receive,
                answer.status,
                body,
                self.content_type,
                plan.drip_interval,
                self.streams,
            )
            return
        await self.respond(send, answer)


class LoopbackSandbox:
    """The life of a sandbox: `start`, `stop`, `url`, and use as a context manager.

    A subclass sets `self._http` (a `ThreadedServer`) and `self._streams` (its app's
    `StreamLog`) in its constructor and names itself in `label` for error messages.
    """

    label = "sandbox"
    _http: ThreadedServer
    _streams: StreamLog

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:54321 (once started)."""
        if self._http.url is None:
            raise RuntimeError(f"the {self.label} is not started")
        return self._http.url

    def start(self, timeout: float = 10.0) -> None:
        """Bind, serve from a daemon thread, and return once connections are accepted."""
        self._http.start(timeout)

    def stop(self) -> None:
        """Stop serving; cut open connections; wait for the thread."""
        self._http.stop()

    def streamed(self) -> list[StreamReport]:
        """What the "drip" and "huge" faults sent, oldest first (kept until `reset`)."""
        return self._streams.reports()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def sandbox_arguments(prog: str, description: str) -> argparse.ArgumentParser:
    """A sandbox's command line, with the options they all have: --host and --port."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    return parser


def serve_until_signalled(sandbox: LoopbackSandbox) -> None:
    """Serve `sandbox` until SIGTERM or SIGINT; print {"url": ...} once it is ready."""
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    # Blocked before the server thread starts, so it inherits the mask and only sigwait sees them.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    sandbox.start()
    try:
        print(json.dumps({"url": sandbox.url}), flush=True)
        signal.sigwait(stop_signals)
    finally:
        sandbox.stop()
