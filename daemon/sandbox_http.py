"""What every sandbox server shares: uvicorn in a thread, cuttable connections, body reading.

The sandboxes (reference MIS, Pressero, Pace) are real HTTP servers on loopback that tests and
the demo talk to over sockets. Their fault knobs need two things uvicorn does not give an
ASGI app: cutting a connection without an answer (the "dropped connection" and "lost answer
after commit" faults), and noticing that a client hung up during injected latency. This
module gives them both, and the thread that serves them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from types import TracebackType
from typing import Any, Self

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.utils import get_remote_addr

__all__ = [
    "BodyTooLarge",
    "LoopbackSandbox",
    "ThreadedServer",
    "check_fault_knobs",
    "check_http_fail_next",
    "cuttable_protocol",
    "hang_up",
    "read_body",
    "still_there_after",
    "valid_basic",
]

Receive = Callable[[], Awaitable[Mapping[str, Any]]]
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


def check_http_fail_next(
    value: object, kinds: Sequence[str], *, fold_case: bool = False
) -> list[dict[str, Any]]:
    """Check an HTTP sandbox's `fail_next` queue: one-shot faults matched by path prefix and
    method; raise ValueError naming the first wrong entry. `fold_case`: paths compare
    case-insensitively (as Pressero's routing does)."""
    if not isinstance(value, list):
        raise ValueError("faults.fail_next: must be a list of objects")
    entries = []
    for i, entry in enumerate(value):
        where = f"faults.fail_next[{i}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: must be an object")
        unknown = sorted(set(entry) - {"path_prefix", "method", "kind", "message"})
        if unknown:
            raise ValueError(f"{where}.{unknown[0]}: unknown key")
        kind = entry.get("kind")
        if kind not in kinds:
            raise ValueError(f"{where}.kind: must be one of {', '.join(kinds)}")
        prefix = entry.get("path_prefix", "/api")
        method = entry.get("method")
        message = entry.get("message", "rejected by an injected fault")
        if not isinstance(prefix, str):
            raise ValueError(f"{where}.path_prefix: must be a string")
        if method is not None and not isinstance(method, str):
            raise ValueError(f"{where}.method: must be a string or null")
        if not isinstance(message, str):
            raise ValueError(f"{where}.message: must be a string")
        entries.append(
            {
                "path_prefix": prefix.lower() if fold_case else prefix,
                "method": method.upper() if method else None,
                "kind": kind,
                "message": message,
            }
        )
    return entries


class LoopbackSandbox:
    """The life of a sandbox: `start`, `stop`, `url`, and use as a context manager.

    A subclass sets `self._http` (a `ThreadedServer`) in its constructor and names itself in
    `label` for error messages.
    """

    label = "sandbox"
    _http: ThreadedServer

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
